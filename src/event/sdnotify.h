/* systemd's notification protocol (sd_notify(3)) without libsystemd: one
 * datagram to the unix socket named by $NOTIFY_SOCKET ('@' for the
 * abstract namespace). Without the variable, nothing is sent. */
#ifndef FERRY_EVENT_SDNOTIFY_H
#define FERRY_EVENT_SDNOTIFY_H

/* Sends the lines of msg ("READY=1\nSTATUS=..."). Returns 0, or -1 when
 * there is no socket or the datagram could not be sent. */
int sd_notify_msg(const char *msg);
/* Connects one socket to $NOTIFY_SOCKET now and sends everything through
 * it from then on (before a chroot hides the path). */
void sd_notify_keep(void);
/* RELOADING=1 with MONOTONIC_USEC (as Type=notify-reload wants), READY=1,
 * STOPPING=1, and STATUS=<text>. */
void sd_notify_reloading(void);
void sd_notify_ready(const char *status);
void sd_notify_stopping(void);

#endif
