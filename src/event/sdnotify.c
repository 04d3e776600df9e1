#include "event/sdnotify.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int kept_fd = -1; /* sd_notify_keep: connected once, for good */

/* $NOTIFY_SOCKET as an address: its length, or 0 when there is none. */
static socklen_t notify_addr(struct sockaddr_un *sun)
{
	const char *path = getenv("NOTIFY_SOCKET");

	if (!path || !*path || strlen(path) >= sizeof(sun->sun_path))
		return 0;
	memcpy(sun->sun_path, path, strlen(path));
	if (path[0] == '@')
		sun->sun_path[0] = 0; /* abstract namespace */
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
}

int sd_notify_msg(const char *msg)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd, rc;

	if (kept_fd >= 0)
		return send(kept_fd, msg, strlen(msg), MSG_NOSIGNAL) < 0 ? -1 : 0;
	len = notify_addr(&sun);
	if (!len)
		return -1;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	rc = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sun, len) < 0 ? -1 : 0;
	close(fd);
	return rc;
}

void sd_notify_keep(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	socklen_t len = notify_addr(&sun);
	int fd;

	if (!len || kept_fd >= 0)
		return;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, len) == 0)
		kept_fd = fd;
	else if (fd >= 0)
		close(fd);
}

void sd_notify_reloading(void)
{
	struct timespec ts;
	char msg[128];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=Reloading the configuration",
		 (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
	sd_notify_msg(msg);
}

void sd_notify_ready(const char *status)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", status);
	sd_notify_msg(msg);
}

void sd_notify_stopping(void)
{
	sd_notify_msg("STOPPING=1\nSTATUS=Stopping");
}
