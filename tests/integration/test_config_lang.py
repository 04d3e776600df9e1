"""HAProxy's configuration language around the keywords: environment
variables (in double quotes, and unquoted in addresses), conditional blocks
and their predicates, the message directives, ferry -cc; compared with the
installed HAProxy 2.6.12 where it is there."""
import os
import re
import shutil
import signal
import socket
import subprocess

import pytest

from conftest import DEFAULTS, FERRY, ROOT_OPT_IN, ask_name, free_port, wait_until

HAPROXY = shutil.which("haproxy")


def run(cmd, env=None, cfg=None, tmp=None):
    """Runs a command (a -c check of cfg written to tmp when given);
    returns (exit status, stdout + stderr)."""
    args = list(cmd)
    if cfg is not None:
        path = os.path.join(tmp, "lang.cfg")
        with open(path, "w") as f:
            f.write(cfg)
        args += ["-c", "-f", path]
    p = subprocess.run(args, capture_output=True, text=True, timeout=20,
                       env=dict(os.environ, **(env or {})))
    return p.returncode, p.stdout + p.stderr


def ferry_messages(out):
    """ferry's configuration sentences: 'lang.cfg:N: text' → [(N, text)]."""
    return [(int(m.group(1)), m.group(2)) for m in re.finditer(r"lang\.cfg:(\d+): (.*)", out)]


def haproxy_messages(out):
    """HAProxy's: 'parsing [path:N]: text' (a trailing ':' before the caret
    lines dropped) → [(N, text)]."""
    return [(int(m.group(1)), m.group(2).rstrip(":"))
            for m in re.finditer(r"parsing \[[^\]]*:(\d+)\]: (.*)", out)]


# ---- environment variables --------------------------------------------------

def test_environment_in_bind_and_server_addresses(ferry, backends):
    """$NAME and ${NAME} expand unquoted in addresses (HAProxy 2.6.12's
    str2sa_range does), every form inside double quotes, nothing inside
    single quotes; traffic goes through each bind to the server named by
    the environment."""
    s1, s2 = backends(2)
    p1, p2, p3 = free_port(), free_port(), free_port()
    env = {"LANG_P1": str(p1), "LANG_P2": str(p2), "LANG_HOST": "127.0.0.1",
           "LANG_S1": str(s1.port), "LANG_S2": str(s2.port), "LANG_EMPTY": ""}
    f = ferry(DEFAULTS +
              "frontend a\n    bind 127.0.0.1:$LANG_P1\n    bind ${LANG_HOST}:${LANG_P2}\n    default_backend one\n"
              "frontend b\n    bind \"127.0.0.1:${LANG_UNSET_PORT-%d}\"\n    default_backend two\n"
              "backend one\n    server s1 $LANG_HOST:$LANG_S1\n"
              "backend two\n    server s2 \"${LANG_EMPTY-x}127.0.0.1:${LANG_S2}\"\n" % p3,
              wait_port=p1, env=env)
    assert ask_name(p1) == "s1"
    assert ask_name(p2) == "s1"
    assert ask_name(p3) == "s2"  # the default of an unset variable; an empty one is not replaced
    assert "error" not in f.stderr()


def test_environment_errors_as_haproxy(tmpdir_path):
    """An unset variable is empty: an address left empty, a bad name, an
    unmatched brace are HAProxy's sentences; ${NAME-default} outside
    quotes, which HAProxy 2.6 leaves in the address as it is (binding a
    port range to '18099}'), is refused with a sentence of ferry's."""
    env = {"LANG_A": "aa"}
    for line, want in (
            ("bind $LANG_UNSET_A", "'$LANG_UNSET_A' resolves to an empty address (environment variable missing?)"),
            ('bind "127.0.0.1:$"', "forbidden first char in environment variable name at position 22"),
            ('bind "127.0.0.1:${LANG_A"', "unmatched brace in environment variable name at position 22"),
            ('bind "127.0.0.1:${LANG_A[1]}"', "truncated or invalid word expansion sequence at position 29"),
    ):
        cfg = DEFAULTS + "frontend f\n    %s\n    default_backend b\nbackend b\n    server s 127.0.0.1:1\n" % line
        rc, out = run([FERRY], env, cfg, tmpdir_path)
        assert rc == 1 and any(want in text for n, text in ferry_messages(out) if n == 8), out
        if HAPROXY:
            hrc, hout = run([HAPROXY], env, cfg, tmpdir_path)
            assert hrc == 1 and want in hout, hout
    rc, out = run([FERRY], {"LANG_P": "18004"}, DEFAULTS + "frontend f\n    bind 127.0.0.1:${LANG_P-18099}\n"
                  "    default_backend b\nbackend b\n    server s 127.0.0.1:1\n", tmpdir_path)
    assert rc == 1 and "outside double quotes an address expands only $NAME and ${NAME}" in out, out


# ---- conditional blocks ---------------------------------------------------------

BRANCHES = DEFAULTS + """
frontend fe
    bind 127.0.0.1:%d
.if streq("$LANG_ROLE",blue) && version_atleast(2.6) && feature(LINUX_SPLICE)
  .if defined(LANG_CANARY)
    default_backend canary
  .else
    default_backend blue
  .endif
.elif strneq("${LANG_ROLE-none}",none) || !defined(HAPROXY_LOCALPEER)
    default_backend other
.else
    default_backend green
.endif
.if 0
    this line is never read
    .alert "nor this one"
.endif
backend blue
    server blue 127.0.0.1:%d
backend green
    server green 127.0.0.1:%d
backend canary
    server canary 127.0.0.1:%d
backend other
    server other 127.0.0.1:%d
"""


@pytest.mark.parametrize("env,want", [
    ({"LANG_ROLE": "blue"}, "blue"),
    ({"LANG_ROLE": "blue", "LANG_CANARY": ""}, "canary"),
    ({"LANG_ROLE": "red"}, "other"),
    ({}, "green"),
])
def test_if_branches_choose_the_backend(ferry, backends, env, want):
    """The branch the environment selects is the only one read: traffic
    reaches its backend; the masked lines are never read."""
    bs = backends(4, names=["blue", "green", "canary", "other"])
    port = free_port()
    f = ferry(BRANCHES % ((port,) + tuple(b.port for b in bs)), wait_port=port, env=env)
    assert [ask_name(port) for _ in range(3)] == [want] * 3
    assert "never read" not in f.stderr() and "nor this one" not in f.stderr()


def test_if_branches_as_haproxy(tmpdir_path):
    """HAProxy 2.6.12 takes the same branches of the same file: its -c
    agrees on each environment (the backend left without default_backend
    would be a warning on neither side, so the chosen branch is told by an
    .alert in the others)."""
    if not HAPROXY:
        pytest.skip("haproxy is not installed")
    cfg = BRANCHES.replace("default_backend canary", ".alert \"canary\"").replace(
        "default_backend other", ".alert \"other\"").replace("default_backend green", ".alert \"green\"")
    cfg = cfg % (free_port(), 1, 2, 3, 4)
    for env, alert in (({"LANG_ROLE": "blue"}, None), ({"LANG_ROLE": "blue", "LANG_CANARY": ""}, "canary"),
                       ({"LANG_ROLE": "red"}, "other"), ({}, "green")):
        rc, out = run([FERRY], env, cfg, tmpdir_path)
        hrc, hout = run([HAPROXY], env, cfg, tmpdir_path)
        assert (rc, hrc) == ((0, 0) if alert is None else (1, 1)), (env, out, hout)
        if alert:
            assert ("'%s'." % alert) in [t for _, t in ferry_messages(out)], out
            assert ("'%s'." % alert) in [t for _, t in haproxy_messages(hout)], hout


def test_alert_fails_the_start_and_warning_does_not(ferry, tmpdir_path, backends):
    """.alert in a branch read is an error: ferry does not start (exit 1,
    'path:line: 'message'.'); .warning and .notice are said and it starts."""
    port = free_port()
    cfg = DEFAULTS + "listen l\n    bind 127.0.0.1:%d\n    server s 127.0.0.2:1\n" \
                     ".if !defined(LANG_OK)\n    .alert \"LANG_OK must be set\"\n.endif\n" \
                     ".warning \"careful\"\n.notice \"hello\"\n.diag \"only with -dD\"\n" % port
    path = os.path.join(tmpdir_path, "alert.cfg")
    with open(path, "w") as fh:
        fh.write(cfg + ROOT_OPT_IN)
    p = subprocess.run([FERRY, "-f", path], capture_output=True, text=True, timeout=20)
    assert p.returncode == 1
    assert "alert.cfg:11: 'LANG_OK must be set'." in p.stderr
    assert "nothing started" in p.stderr
    (b,) = backends(1)
    f = ferry(cfg.replace("127.0.0.2:1", "127.0.0.1:%d" % b.port), wait_port=port, env={"LANG_OK": "1"},
              extra_args=("-dD",))
    assert ask_name(port) == "s1"
    err = f.stderr()
    assert re.search(r"ferry\.cfg:\d+: warning: 'careful'\.", err)
    assert re.search(r"ferry\.cfg:\d+: notice: 'hello'\.", err)
    assert re.search(r"ferry\.cfg:\d+: diag: 'only with -dD'\.", err)
    rc, out = run([FERRY], {"LANG_OK": "1"}, cfg, tmpdir_path)
    assert rc == 0 and "'careful'." in out and "only with -dD" not in out


# Broken blocks and directives, each after "global".
BROKEN = [
    ".endif\n", ".else\n", ".elif 1\n", ".if 1\n",
    ".if 1\n.else\n.else\n.endif\n", ".if 1\n.else\n.elif 1\n.endif\n",
    ".if 1 &&\n.endif\n", ".if 0\n.elif bogus(\n.endif\n",
    ".if streq(a)\n.endif\n", ".if (1\n.endif\n", ".if 1abc\n.endif\n",
    ".if 1\n.else x\n.endif\n", ".bogus\n", ".notice two words\n", ".alert\n",
    '.if 0\n    bind "unterminated\n.endif\n',  # masked lines are still split
]


@pytest.mark.parametrize("body", BROKEN)
def test_broken_blocks_as_haproxy(tmpdir_path, body):
    """ferry refuses what HAProxy refuses, on the same line and, for the
    blocks and directives, with the same sentence."""
    cfg = "global\n" + body + DEFAULTS + "listen l\n    bind 127.0.0.1:%d\n    server s 127.0.0.1:1\n" % free_port()
    rc, out = run([FERRY], None, cfg, tmpdir_path)
    mine = ferry_messages(out)
    assert rc == 1 and mine, out
    if not HAPROXY:
        return
    hrc, hout = run([HAPROXY], None, cfg, tmpdir_path)
    theirs = haproxy_messages(hout)
    assert hrc == 1 and theirs, hout
    if "unterminated" in body:  # the sentence of an unmatched quote is ferry's own
        assert theirs[0][0] == mine[0][0]
    else:
        assert theirs[0] == mine[0], (theirs, mine)


def test_pseudo_variables_and_localpeer(tmpdir_path):
    """${.FILE}, ${.LINE}, ${.SECTION}, and HAPROXY_LOCALPEER (the host name,
    or -L)."""
    cfg = "global\n    .notice \"${.FILE}:${.LINE}:${.SECTION}:${HAPROXY_LOCALPEER}\"\n" + DEFAULTS + \
          "listen lst\n    bind 127.0.0.1:%d\n    .notice \"${.SECTION}\"\n    server s 127.0.0.1:1\n" % free_port()
    rc, out = run([FERRY], None, cfg, tmpdir_path)
    path = os.path.join(tmpdir_path, "lang.cfg")
    assert rc == 0, out
    assert "notice: '%s:2:global:%s'." % (path, socket.gethostname()) in out
    assert "lang.cfg:11: notice: 'lst'." in out
    rc, out = run([FERRY, "-L", "peer7"], None, cfg, tmpdir_path)
    assert ":global:peer7'." in out
    if HAPROXY:
        hrc, hout = run([HAPROXY], None, cfg, tmpdir_path)
        assert "'%s:2:global:%s'." % (path, socket.gethostname()) in hout
        assert "'lst'." in hout


def test_cfgfiles_is_set_for_a_reload(ferry, backends):
    """HAPROXY_CFGFILES is set once the files are read (HAProxy's re-executed
    process sees it at a reload): the first reading takes the .else branch,
    a reload the other one."""
    s1, s2 = backends(2)
    port = free_port()
    f = ferry(DEFAULTS + "frontend fe\n    bind 127.0.0.1:%d\n"
              ".if defined(HAPROXY_CFGFILES)\n    default_backend second\n.else\n    default_backend first\n.endif\n"
              ".notice \"files=${HAPROXY_CFGFILES}\"\n"
              "backend first\n    server s1 127.0.0.1:%d\nbackend second\n    server s2 127.0.0.1:%d\n"
              % (port, s1.port, s2.port), wait_port=port)
    assert ask_name(port) == "s1"
    f.proc.send_signal(signal.SIGHUP)
    assert wait_until(lambda: "Reloaded" in f.stderr(), 5), f.stderr()
    assert ask_name(port) == "s2"
    assert "notice: 'files=%s'." % f.cfg_path in f.stderr()


# ---- ferry -cc ------------------------------------------------------------------

# (condition, ferry's exit status): 0 true, 1 false, 2 error. With
# LANG_DEFD=x, LANG_EMPTYV= and LANG_NOPE unset.
CONDITIONS = [
    ("", 1), ("0", 1), ("1", 0), ("2", 0), ("-1", 0), ("0x10", 0), ("00", 1), ("08", 2), ("1abc", 2),
    ("abc", 2), ("true", 2), ("!", 2), ("! 0", 0), ("!!1", 0),
    ("defined(LANG_DEFD)", 0), ("defined(LANG_EMPTYV)", 0), ("defined(LANG_NOPE)", 1),
    ("!defined(LANG_NOPE)", 0), ("defined()", 1), ("defined", 1), ("defined(", 2), ("defined (LANG_DEFD)", 2),
    ("feature(LINUX_SPLICE)", 0), ("feature(THREAD)", 0), ("feature(EPOLL)", 0), ("feature(SPLICE)", 1),
    ("feature(NOPE)", 1), ("feature(ZLIB)", 1), ("!feature(QUIC)", 0),
    ("streq(a,a)", 0), ("streq(a,b)", 1), ("strneq(a,b)", 0), ('streq("$LANG_DEFD",x)', 0),
    ('streq("${LANG_NOPE-d}",d)', 0), ("streq(a)", 2), ("streq", 2), ("streq(a,b,c)", 2),
    ("streq( a , a )", 0), ("streq('a b','a b')", 0), ('streq("a,b",x)', 2), ('streq(\\"a,b\\",\\"a,b\\")', 0),
    ('streq("a)",a)', 2), ("defined(LANG_DEFD,x)", 2), ("defined(A\\", 2),
    ("version_atleast(2.6)", 0), ("version_atleast(2.6.12)", 0), ("version_atleast(2.6.13)", 1),
    ("version_before(2.7)", 0), ("version_before(2.6.12)", 1), ("version_atleast(2.6-dev1)", 0),
    ("version_atleast(2.6.12-dev1)", 0), ("version_atleast(2.6.12-1)", 1), ("version_atleast(2.4-dev19)", 0),
    ("version_atleast(3.0)", 1), ("version_atleast(abc)", 0), ("version_before(abc)", 1),
    ("1 && 0", 1), ("1 || 0", 0), ("0 || 1 && 0", 1), ("(1)", 0), ("(0 || 1) && 1", 0), ("(1", 2), ("1)", 2),
    ("()", 2), ("foo(1)", 2), ("1 &&", 2), ("&& 1", 2), ("1 ||", 2), ("1 & 1", 2), ("1 # c", 2),
    ("  1  ", 0), ("1 || foo", 2), ("0 && streq(a)", 2), ("!(0) && ! ( 1 || 0 )", 1), ("((((1))))", 0),
    ('"1"', 0), ("'0'", 1), ('"$LANG_NOPE"', 1),
]
CC_ENV = {"LANG_DEFD": "x", "LANG_EMPTYV": ""}


def _cc(binary, cond):
    env = dict(os.environ, **CC_ENV)
    env.pop("LANG_NOPE", None)
    p = subprocess.run([binary, "-cc", cond], capture_output=True, text=True, timeout=10, env=env)
    m = re.search(r"Failed to evaluate condition: (.*)", p.stderr)
    return p.returncode, m.group(1) if m else None, p.stdout + p.stderr


def test_cc_answers_as_haproxy():
    """ferry -cc answers each condition with HAProxy 2.6.12's exit status
    and, on an evaluation error, its sentence; the installed haproxy -cc is
    asked the same in the same test."""
    for cond, want in CONDITIONS:
        rc, why, out = _cc(FERRY, cond)
        assert rc == want, (cond, rc, out)
        assert (why is not None) == (rc == 2 and "Syntax Error" not in out), (cond, out)
        if HAPROXY:
            hrc, hwhy, hout = _cc(HAPROXY, cond)
            assert (rc, why) == (hrc, hwhy), (cond, out, hout)


def test_cc_where_ferry_differs():
    """What ferry has and HAProxy has not, and the reverse: feature() names
    what ferry has (no OpenSSL, Lua, ...), ssllib_name_startswith() is false
    and the OpenSSL version predicates are errors (no SSL library)."""
    assert _cc(FERRY, "feature(OPENSSL) || feature(LUA) || feature(TPROXY)")[0] == 1
    assert _cc(FERRY, "feature(PROMEX) && feature(SYSTEMD) && feature(PCRE2)")[0] == 0
    assert _cc(FERRY, "ssllib_name_startswith(OpenSSL)")[0] == 1
    rc, why, _ = _cc(FERRY, "openssl_version_atleast(1.1.1)")
    assert rc == 2 and "needs an SSL library" in why
    p = subprocess.run([FERRY, "-vv"], capture_output=True, text=True, timeout=10)
    assert "Feature list : " in p.stdout and "+LINUX_SPLICE" in p.stdout and "-OPENSSL" in p.stdout
    assert "HAProxy 2.6.12" in p.stdout
