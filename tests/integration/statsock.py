"""Talking to ferry's stats socket in tests: one command, CSV rows, an
interactive (prompt) session."""
import csv
import socket

# HAProxy 2.6.12's "show stat" header, byte for byte.
CSV_HEADER = (
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,"
    "wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,"
    "lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,"
    "hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,"
    "cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,"
    "ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,"
    "check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,"
    "conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,"
    "srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,"
    "used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,"
    "agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,"
    "h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,"
    "h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,"
    "h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,"
    "h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_connections,"
    "h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out,")
COLUMNS = CSV_HEADER[2:].split(",")

def cli(path, data, timeout=5, shut=False):
    """Sends data (str or bytes) to a stats socket (a path, or a (host, port)
    pair) and reads until ferry closes; returns the text."""
    fam = socket.AF_UNIX if isinstance(path, str) else socket.AF_INET
    with socket.socket(fam) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(data.encode() if isinstance(data, str) else data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            d = s.recv(65536)
            if not d:
                return out.decode(errors="replace")
            out += d


def cmd(path, line):
    """One command's answer, without the empty line that ends it."""
    out = cli(path, line + "\n")
    assert out.endswith("\n\n") or out == "\n", repr(out[-200:])
    return out[:-1]


def csv_rows(path, line="show stat"):
    """The lines of "show stat" as dicts (CSV-quoted values unquoted)."""
    out = cmd(path, line).splitlines()
    assert out[0] == CSV_HEADER
    return [dict(zip(COLUMNS, r)) for r in csv.reader(out[1:])]


def row(rows, px, sv):
    return next(r for r in rows if r["pxname"] == px and r["svname"] == sv)


class Prompt:
    """An interactive session, as `socat readline` drives it: "prompt", then
    one line at a time, each answer ending with "\\n> "."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(5)
        self.s.connect(path)
        assert self.ask("prompt") == "\n> "

    def ask(self, line):
        self.s.sendall(line.encode() + b"\n")
        out = b""
        while not out.endswith(b"\n> "):
            d = self.s.recv(65536)
            if not d:
                raise EOFError(out)
            out += d
        return out.decode()

    def close(self):
        self.s.close()


def sockets_cfg(tmp, extra=""):
    """A global section with three stats sockets in tmp: admin.sock,
    user.sock and oper.sock, at their levels (and extra lines)."""
    return ("global\n"
            "    stats socket %s/admin.sock mode 600 level admin\n"
            "    stats socket %s/user.sock mode 600 level user\n"
            "    stats socket %s/oper.sock mode 600 level operator\n%s" % (tmp, tmp, tmp, extra))
