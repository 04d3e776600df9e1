"""The configuration corpus: every tests/integration/configs/*.cfg goes
through `ferry -c -f` and, when Debian's haproxy is installed, through
`haproxy -c -f` in the same test, so the suite notices when ferry accepts
what HAProxy refuses, or the reverse of what a file declares.

Each file starts with comment lines that declare what must happen:
  # ferry: accepts                    ferry -c exits 0
  # ferry: refuses <text>             ferry -c exits 1 and prints <text>
  # ferry-warning: <text>             ferry prints a warning line holding <text>
  # haproxy: accepts                  haproxy -c exits 0
  # haproxy: refuses <reason>         haproxy -c exits non-zero (say why when
                                      ferry accepts it: a difference on purpose)
  # haproxy-warning: <text>           haproxy prints a warning holding <text>
  # env: NAME=value                   environment of both commands
Lines of the header come before the first line that is not a comment. A
ferry-warning that is HAProxy's own sentence is usually declared as a
haproxy-warning too: the same text must then come out of both."""
import glob
import os
import re
import shutil
import subprocess

import pytest

from conftest import FERRY

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = sorted(glob.glob(os.path.join(HERE, "configs", "*.cfg")))
HAPROXY = shutil.which("haproxy")
KEYS = ("ferry", "ferry-warning", "haproxy", "haproxy-warning", "env")


class Decl:
    def __init__(self):
        self.ferry = self.haproxy = None       # ("accepts"|"refuses", text)
        self.ferry_warnings, self.haproxy_warnings = [], []
        self.env = {}


def read_header(path):
    """The declarations at the top of path. Raises ValueError when one is
    malformed, unknown, or missing."""
    d = Decl()
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.startswith("#"):
                break
            m = re.match(r"^#\s*([a-z-]+):\s?(.*?)\s*$", line)
            if not m or m.group(1) not in KEYS:
                continue  # an ordinary comment (the source of a config, ...)
            key, val = m.groups()
            if key in ("ferry", "haproxy"):
                verdict, _, text = val.partition(" ")
                if verdict not in ("accepts", "refuses") or (verdict == "accepts" and text):
                    raise ValueError(f"{path}: '# {key}: {val}': expected 'accepts' or 'refuses <text>'")
                if getattr(d, key):
                    raise ValueError(f"{path}: '# {key}:' declared twice")
                setattr(d, key, (verdict, text.strip()))
            elif key == "ferry-warning":
                d.ferry_warnings.append(val)
            elif key == "haproxy-warning":
                d.haproxy_warnings.append(val)
            else:
                name, eq, value = val.partition("=")
                if not eq or not name:
                    raise ValueError(f"{path}: '# env: {val}': expected NAME=value")
                d.env[name] = value
    if not d.ferry or not d.haproxy:
        raise ValueError(f"{path}: the header must declare both '# ferry:' and '# haproxy:'")
    if d.ferry[0] == "refuses" and not d.ferry[1]:
        raise ValueError(f"{path}: '# ferry: refuses' needs the text of the error")
    if d.ferry[0] == "accepts" and d.haproxy[0] == "refuses" and not d.haproxy[1]:
        raise ValueError(f"{path}: ferry accepts what HAProxy refuses: say why after '# haproxy: refuses'")
    return d


def run(cmd, path, env):
    e = dict(os.environ)
    e.update(env)
    r = subprocess.run(cmd + ["-c", "-f", path], capture_output=True, text=True, env=e,
                       cwd=os.path.dirname(path), timeout=60)
    return r.returncode, r.stdout + r.stderr


def warning_lines(out, tag):
    return [l for l in out.splitlines() if tag in l]


def test_the_corpus_is_there():
    assert len(CONFIGS) >= 10, CONFIGS


@pytest.mark.parametrize("path", CONFIGS, ids=[os.path.basename(p) for p in CONFIGS])
def test_config(path):
    d = read_header(path)
    rc, out = run([FERRY], path, d.env)
    assert "ERROR: AddressSanitizer" not in out and "runtime error:" not in out, out
    if d.ferry[0] == "accepts":
        assert rc == 0, f"ferry refused {path}:\n{out}"
    else:
        assert rc == 1, f"ferry accepted {path}, declared refused:\n{out}"
        assert d.ferry[1] in out, f"'{d.ferry[1]}' not in ferry's output:\n{out}"
    warnings = warning_lines(out, ": warning: ")
    for w in d.ferry_warnings:
        assert any(w in l for l in warnings), f"no ferry warning holds '{w}':\n{out}"
    if not HAPROXY:
        return
    hrc, hout = run([HAPROXY], path, d.env)
    if d.haproxy[0] == "accepts":
        assert hrc == 0, f"haproxy refused {path}:\n{hout}"
    else:
        assert hrc != 0, f"haproxy accepted {path}, declared refused:\n{hout}"
    hwarnings = warning_lines(hout, "[WARNING]")
    for w in d.haproxy_warnings:
        assert any(w in l for l in hwarnings), f"no haproxy warning holds '{w}':\n{hout}"
    # ferry never accepts what HAProxy refuses, unless the file says why
    if rc == 0 and hrc != 0:
        assert d.haproxy[0] == "refuses" and d.haproxy[1], hout


def test_header_errors_are_caught(tmpdir_path):
    """The runner itself refuses a file whose header says nothing or too
    little: a corpus file cannot pass by declaring nothing."""
    cases = ["# just a comment\nglobal\n",
             "# ferry: accepts\nglobal\n",
             "# ferry: refuses\n# haproxy: accepts\nglobal\n",
             "# ferry: accepts\n# haproxy: refuses\nglobal\n",
             "# ferry: maybe\n# haproxy: accepts\nglobal\n"]
    for i, text in enumerate(cases):
        p = os.path.join(tmpdir_path, f"h{i}.cfg")
        with open(p, "w") as f:
            f.write(text)
        with pytest.raises(ValueError):
            read_header(p)
