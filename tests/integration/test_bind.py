"""bind forms: several addresses, port ranges, IPv6, v4v6/v6only."""
import socket

import pytest

from conftest import DEFAULTS, ask_name, assert_relayed, free_port, listener


def has_ipv6():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_several_addresses_and_a_port_range(ferry, backends):
    (b,) = backends(1)
    p1 = free_port()
    base = free_port()
    while any(not _free(base + i) for i in range(3)):
        base = free_port()
    ferry(DEFAULTS + "listen l\n    bind 127.0.0.1:%d,127.0.0.1:%d-%d\n    server s1 127.0.0.1:%d\n"
          % (p1, base, base + 2, b.port), wait_port=p1)
    for port in (p1, base, base + 1, base + 2):
        assert ask_name(port) == "s1"


def _free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


@pytest.mark.skipif(not has_ipv6(), reason="no IPv6 on loopback")
def test_ipv6_bind_and_server(ferry):
    srv = listener("::1", socket.AF_INET6)
    port = free_port()
    ferry(DEFAULTS + "listen l\n    bind [::1]:%d\n    server s1 [::1]:%d\n" % (port, srv.getsockname()[1]),
          wait_port=port)
    assert_relayed(("::1", port), srv, b"over v6")
    srv.close()


@pytest.mark.skipif(not has_ipv6(), reason="no IPv6 on loopback")
def test_v4v6_and_v6only(ferry, backends):
    (b,) = backends(1)
    both, only6 = free_port(), free_port()
    ferry(DEFAULTS + "listen a\n    bind :::%d v4v6\n    server s1 127.0.0.1:%d\n"
          "listen b\n    bind :::%d v6only\n    server s1 127.0.0.1:%d\n" % (both, b.port, only6, b.port),
          wait_port=both)
    assert ask_name(both) == "s1"  # IPv4 client on a v4v6 socket
    with socket.create_connection(("::1", both), timeout=5) as c:
        assert c.recv(10) == b"s1\n"
    with socket.create_connection(("::1", only6), timeout=5) as c:
        assert c.recv(10) == b"s1\n"
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", only6), timeout=2)


def test_server_without_port_uses_client_destination_port(ferry, backends):
    """HAProxy: a server address without a port gets the port the client connected to."""
    (b,) = backends(1)
    # ferry listens on 127.0.0.1:P and forwards to 127.0.0.2:P, where the backend is
    b2 = listener("127.0.0.2")
    port = b2.getsockname()[1]
    ferry(DEFAULTS + "listen l\n    bind 127.0.0.1:%d\n    server s1 127.0.0.2\n" % port, wait_port=port)
    assert_relayed(("127.0.0.1", port), b2, b"same port")
    b2.close()


def test_server_host_name_resolved_at_startup(ferry):
    """A server given by host name ("localhost") is resolved once at startup."""
    # localhost may resolve to ::1 or 127.0.0.1: listen on both
    srv = listener("::", socket.AF_INET6, dual_stack=True) if has_ipv6() else listener()
    port = free_port()
    ferry(DEFAULTS + "listen l\n    bind 127.0.0.1:%d\n    server s1 localhost:%d\n" % (port, srv.getsockname()[1]),
          wait_port=port)
    assert_relayed(("127.0.0.1", port), srv, b"by name")
    srv.close()
