"""A keyword whose value is missing gets "path:line: message", never a crash.

Every keyword line of the configurations the tests use (the corpus file
beside this one, the strings of tests/integration/*.py and
tests/unit/test_parser.c, the README's examples) is cut after each of its
words, and also given an empty word ("") there; each variant is one file.
"ferry -c" must never crash (no signal, no sanitizer report, also under
the ASan build) and either accept the variant or name its line.

Run as a script to print the variants: python3 test_config_truncation.py
"""
import ast
import os
import re
import subprocess
import sys
import tempfile

from conftest import FERRY, ROOT, SANITIZER_MARKS

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "truncation_corpus.cfg")
CTX_DEFAULTS = ("defaults\n    mode tcp\n    timeout connect 1s\n"
                "    timeout client 1s\n    timeout server 1s\n")
LISTEN = "listen ctx_%d\n    bind 127.0.0.1:1\n    server ctx 127.0.0.1:1\n"
BATCH = 300  # files per "ferry -c -f DIR"; a crashing batch is rerun file by file


def raw_words(line):
    """The words of a line as written (quotes and backslashes kept), split
    where ferry's lexer splits them."""
    words, cur, quote, i = [], "", None, 0
    while i < len(line):
        c = line[i]
        if c == "#" and not quote:
            break
        if c in " \t" and not quote:
            if cur:
                words.append(cur)
                cur = ""
        elif c == "\\" and quote != "'" and i + 1 < len(line):
            cur += line[i:i + 2]
            i += 1
        else:
            if c == quote:
                quote = None
            elif c in "'\"" and not quote:
                quote = c
            cur += c
        i += 1
    if cur:
        words.append(cur)
    return words


def corpus_lines():
    """(context, line) pairs from the corpus file. context is "global",
    "proxy" (a line inside a proxy section) or "section" (a section line)."""
    out, ctx = [], None
    with open(CORPUS) as f:
        for line in f:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if not line[0].isspace():
                ctx = "global" if line.split()[0] == "global" else "proxy"
                out.append(("section", line.strip()))
            else:
                out.append((ctx, line.strip()))
    return out


def _python_strings(path):
    """Every string literal of a python file but its docstrings; formatting
    placeholders (%d, %s, {...}) become "1"."""
    tree = ast.parse(open(path).read())
    docs = {id(n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
    for n in ast.walk(tree):
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs:
            yield re.sub(r"%[ds]", "1", n.value)
        elif isinstance(n, ast.JoinedStr):
            yield "".join(v.value if isinstance(v, ast.Constant) else "1" for v in n.values)


def _c_strings(path):
    """The string literals of a C file, adjacent ones joined, escapes decoded."""
    text = open(path).read()
    lit = r'"(?:[^"\\\n]|\\.)*"'
    for m in re.finditer(r"%s(?:\s*%s)*" % (lit, lit), text):
        parts = re.findall(lit, m.group(0))
        try:
            yield "".join(ast.literal_eval(p) for p in parts)
        except (ValueError, SyntaxError):
            continue


def _readme_blocks(path):
    """The text of the fenced code blocks of a markdown file."""
    return re.findall(r"^```[a-z]*\n(.*?)^```", open(path).read(), re.S | re.M)


def extracted_lines(keywords):
    """(context, line) pairs of the lines of the other tests and the README
    whose first word is a keyword the corpus knows (keywords: word -> set of
    contexts)."""
    texts = []
    for name in sorted(os.listdir(HERE)):
        if name.endswith(".py") and name != os.path.basename(__file__):
            texts += _python_strings(os.path.join(HERE, name))
    texts += _c_strings(os.path.join(ROOT, "tests", "unit", "test_parser.c"))
    texts += _readme_blocks(os.path.join(ROOT, "README.md"))
    out = []
    for t in texts:
        for line in t.split("\n"):
            words = line.split()
            if words and words[0] in keywords:
                out += [(ctx, line.strip()) for ctx in sorted(keywords[words[0]])]
    return out


def variants():
    """Sorted unique (context, text) variants: each line cut after each word,
    and each cut followed by an empty word."""
    base = corpus_lines()
    keywords = {}
    for ctx, line in base:
        keywords.setdefault(line.split()[0], set()).add(ctx)
    seen = set()
    for ctx, line in base + extracted_lines(keywords):
        words = raw_words(line)
        for k in range(1, len(words) + 1):
            seen.add((ctx, " ".join(words[:k])))
            seen.add((ctx, " ".join(words[:k] + ['""'])))
    return sorted(seen)


def variant_file(ctx, text, n):
    """The text of variant number n and the line number of its keyword line."""
    if ctx == "global":
        return "global\n    %s\n" % text + CTX_DEFAULTS + LISTEN % n, 2
    if ctx == "section":
        return CTX_DEFAULTS + text + "\n" + LISTEN % n, 6
    # the context's server comes first: a default-server line must not change it
    return CTX_DEFAULTS + LISTEN % n + "    %s\n" % text, 9


def run_check(path):
    """Runs ferry -c on path; returns (exit status or None if it hung, output)."""
    # a host name in a line is looked up: bound the wait where DNS is unreachable
    env = dict(os.environ, RES_OPTIONS="timeout:1 attempts:1")
    try:
        r = subprocess.run([FERRY, "-c", "-f", path], capture_output=True, text=True,
                           errors="replace", timeout=120, env=env)
    except subprocess.TimeoutExpired:
        return None, "timed out"
    return r.returncode, r.stdout + r.stderr


def crashed(rc, out):
    """A sentence when ferry crashed (or hung), else None."""
    if rc is None:
        return out
    if rc < 0:
        return "killed by signal %d" % -rc
    if rc not in (0, 1):
        return "exit status %d" % rc
    for mark in SANITIZER_MARKS:
        if mark in out:
            return "sanitizer: " + out[out.index(mark):].split("\n")[0]
    return None


def misattributed(path, line, out):
    """A sentence when the errors about path do not name its keyword line."""
    errors = [l for l in out.split("\n")
              if l.startswith(path + ":") and not re.match(re.escape(path) + r":\d+: warning: ", l)]
    wrong = [l for l in errors if not l.startswith("%s:%d: " % (path, line))]
    if wrong:
        return "errors on other lines than %d: %s" % (line, "; ".join(wrong))
    return None


def check_batch(d, batch):
    """Runs ferry -c on directory d holding the files of batch, a list of
    (path, line, context, text); returns the problems found, one sentence each."""
    rc, out = run_check(d)
    problems = []
    if crashed(rc, out):
        # find the culprits: every file on its own
        for path, line, ctx, text in batch:
            rc1, out1 = run_check(path)
            why = crashed(rc1, out1)
            if why:
                problems.append("%s line %r crashed ferry -c: %s" % (ctx, text, why))
        if not problems:
            problems.append("the batch in %s crashed ferry -c (%s) but no file alone did" % (d, crashed(rc, out)))
        return problems
    for path, line, ctx, text in batch:
        why = misattributed(path, line, out)
        if why:
            problems.append("%s line %r: %s" % (ctx, text, why))
    return problems


def test_truncated_keyword_lines_name_their_line_and_never_crash():
    vs = variants()
    assert len(vs) > 1000, "the corpus shrank to %d variants" % len(vs)
    problems = []
    with tempfile.TemporaryDirectory(prefix="ferry-trunc-") as tmp:
        for start in range(0, len(vs), BATCH):
            d = os.path.join(tmp, "b%04d" % (start // BATCH))
            os.mkdir(d)
            batch = []
            for n, (ctx, text) in enumerate(vs[start:start + BATCH], start):
                body, line = variant_file(ctx, text, n)
                path = os.path.join(d, "v%05d.cfg" % n)
                with open(path, "w") as f:
                    f.write(body)
                batch.append((path, line, ctx, text))
            problems += check_batch(d, batch)
    assert not problems, "%d problems:\n%s" % (len(problems), "\n".join(problems[:60]))


if __name__ == "__main__":
    for ctx, text in variants():
        print("%-8s %s" % (ctx, text))
    sys.exit(0)
