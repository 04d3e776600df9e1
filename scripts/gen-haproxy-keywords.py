#!/usr/bin/env python3
"""Writes src/config/haproxy_kw.c: every keyword HAProxy's configuration
manual documents, so that ferry can tell a keyword HAProxy has (and ferry
does not support yet) from a typo.

Usage: scripts/gen-haproxy-keywords.py CONFIGURATION.TXT[.gz] > src/config/haproxy_kw.c

CONFIGURATION.TXT is HAProxy's doc/configuration.txt, for example Debian's
/usr/share/doc/haproxy/configuration.txt.gz (HAProxy 2.6.12), or from a
clone: git show v2.6.0:doc/configuration.txt. Where the keywords come from:
  - sections: the section lines of chapter 4 and the first keyword of 3.4 to
    3.10, 5.3.2 (resolvers), 6.2.1 (cache) and 10.1.1 (fcgi-app);
  - global: the list at the start of chapter 3 and the keywords described in
    3.1 to 3.3;
  - proxy: the matrix of 4.1 ("option httplog", "stick on", ...), with the
    sections each is allowed in;
  - bind and server: the keywords described in 5.1 and 5.2;
  - http-request / http-response / http-after-response actions: 4.2.
The table is committed: building ferry needs neither the manual nor this
script. Regenerate it when moving to another HAProxy version."""
import gzip
import re
import sys

HEADER_RE = re.compile(r"^([a-z0-9][a-z0-9_.-]*)(?:\s|$)")


def read(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        return f.read().splitlines()


def section(lines, number, next_number):
    """The body of chapter `number` ("5.1."), up to the title of chapter
    `next_number`. A title in the body has one space after its number; the
    table of contents has several, so it is passed over."""
    title_re = re.compile("^" + re.escape(number) + r" \S")
    next_re = re.compile("^" + re.escape(next_number) + r" \S")
    out, inside = [], False
    for line in lines:
        if title_re.match(line):
            inside = True
            continue
        if inside and next_re.match(line):
            break
        if inside:
            out.append(line)
    return out


def described(lines):
    """Keywords described in a chapter: after a blank line, one or more lines
    at column 0 that each start with a keyword ("inter <delay>", "fastinter
    <delay>"), then an indented line (the description)."""
    kws = []
    i = 1
    while i < len(lines):
        if lines[i - 1].strip() or not HEADER_RE.match(lines[i]):
            i += 1
            continue
        j = i
        while j < len(lines) and HEADER_RE.match(lines[j]):
            j += 1
        if j < len(lines) and lines[j].startswith("  "):
            kws += [HEADER_RE.match(lines[k]).group(1) for k in range(i, j)]
        i = j + 1
    return kws


def version(lines):
    ver = date = ""
    for line in lines[:12]:
        s = line.strip()
        if s.startswith("version "):
            ver = s[len("version "):]
        elif re.match(r"^\d{4}/\d{2}/\d{2}$", s):
            date = s
    return f"{ver} ({date})" if date else ver


def global_keywords(lines):
    intro = section(lines, "3.", "3.1.")
    kws = [m.group(1) for m in (re.match(r"^\s+- ([a-z0-9][a-z0-9_.-]*)", l) for l in intro) if m]
    for title, nxt in (("3.1.", "3.2."), ("3.2.", "3.3."), ("3.3.", "3.4.")):
        kws += described(section(lines, title, nxt))
    return kws


# columns of the 4.1 matrix: defaults, frontend, listen, backend
MATRIX_RE = re.compile(r"^([a-z_][a-z0-9_ -]*?[a-z0-9_-])\s+(?:\(\*\)|\(deprecated\))?\s*"
                       r"(X|-)(?: \(!\))?\s+(X|-)\s+(X|-)\s+(X|-)\s*$")


def proxy_keywords(lines):
    out = []
    for line in section(lines, "4.1.", "4.2."):
        m = MATRIX_RE.match(line)
        if not m:
            continue
        name = " ".join(m.group(1).split())
        d, fe, li, be = (m.group(i) == "X" for i in range(2, 6))
        caps = []
        if d:
            caps.append("HKW_DEF")
        if fe or li:
            caps.append("HKW_FE")
        if be or li:
            caps.append("HKW_BE")
        out.append((name, " | ".join(caps) or "0"))
    return out


def first_keyword(lines, title, nxt):
    kws = described(section(lines, title, nxt))
    return kws[:1]


def section_keywords(lines):
    kws = ["global", "defaults", "frontend", "backend", "listen"]
    for title, nxt in (("3.4.", "3.5."), ("3.5.", "3.6."),
                       ("3.6.", "3.7."), ("3.7.", "3.8."),
                       ("3.8.", "3.9."), ("3.9.", "3.10."),
                       ("3.10.", "4."), ("5.3.2.", "6."),
                       ("6.2.1.", "6.2.2."), ("10.1.1.", "10.1.2.")):
        kws += first_keyword(lines, title, nxt)
    return kws


def actions(lines, rule):
    names = []
    for line in section(lines, "4.2.", "5."):
        m = re.match(r"^" + rule + r" ([a-z][a-z0-9-]*)", line)
        if m:
            names.append(m.group(1))
    return names


def uniq(seq):
    seen, out = set(), []
    for x in seq:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    lines = read(sys.argv[1])
    rows = []
    for kw in uniq(section_keywords(lines)):
        rows.append(("HKW_SECTION", kw, "0"))
    for kw in sorted(uniq(global_keywords(lines))):
        rows.append(("HKW_GLOBAL", kw, "0"))
    for kw, caps in proxy_keywords(lines):
        rows.append(("HKW_PROXY", kw, caps))
    for what, title, nxt in (("HKW_BIND", "5.1.", "5.2."), ("HKW_SERVER", "5.2.", "5.3.")):
        for kw in sorted(uniq(described(section(lines, title, nxt)))):
            rows.append((what, kw, "0"))
    for what, rule in (("HKW_HTTP_REQ", "http-request"), ("HKW_HTTP_RES", "http-response"),
                       ("HKW_HTTP_AFTER", "http-after-response")):
        for kw in sorted(uniq(actions(lines, rule))):
            rows.append((what, kw, "0"))
    counts = {}
    for what, _, _ in rows:
        counts[what] = counts.get(what, 0) + 1
    for what in ("HKW_SECTION", "HKW_GLOBAL", "HKW_PROXY", "HKW_BIND", "HKW_SERVER", "HKW_HTTP_REQ"):
        if counts.get(what, 0) < 3:
            sys.exit(f"{sys.argv[1]}: found {counts.get(what, 0)} {what} keywords: is it HAProxy's configuration.txt?")
    w = sys.stdout.write
    w("/* Generated by scripts/gen-haproxy-keywords.py from HAProxy's\n"
      " * doc/configuration.txt, version %s: do not edit.\n"
      " * Every keyword the manual documents, whether ferry implements it or not:\n"
      " * the parser takes its own keywords first and looks here only for a word\n"
      " * it did not take, to say \"an HAProxy keyword that ferry does not support\n"
      " * yet\" instead of \"unknown keyword\". */\n" % version(lines))
    w('#include "config/haproxy_kw.h"\n\n')
    w('const char haproxy_kw_doc_version[] = "%s";\n\n' % version(lines))
    w("const struct haproxy_kw haproxy_keywords[] = {\n")
    for what, kw, caps in rows:
        w('\t{ %s, %s, "%s" },\n' % (what, caps, kw))
    w("\t{ 0, 0, NULL }\n};\n")


if __name__ == "__main__":
    main()
