#!/usr/bin/env python3
"""Run every SQL example in the documentation and check its shown result.

A Markdown file's ```sql blocks run in order in one psql session (inside a
transaction that is rolled back, each statement under a savepoint so an
example that shows an error does not stop the rest).  When a ```sql block is
followed by a ```text block, the text is the example's expected psql output
and must match exactly (trailing spaces aside); a ```sql block without one
must run without error (an empty ```text block is refused: it reads as a
result that went missing).  Connection settings come from the libpq variables.

    python3 test/doc_examples.py README.md docs/*.md
    python3 test/doc_examples.py --fill docs/new-page.md   # writers: add missing results

--fill inserts a ```text block with the actual output after every ```sql block
that has none (it never changes a shown result); read what it wrote before
committing it.
"""
import os
import re
import subprocess
import sys

FENCE = re.compile(r"^```(\w*)\s*$")
MARKER = "@@doc-example-{}@@"
PSQL_PREFIX = re.compile(r"^psql:[^:]*:\d+: ")


def blocks(path):
    """Yield (language, text, line number) for each fenced block."""
    lang, start, body = None, 0, []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            m = FENCE.match(line.rstrip("\n"))
            if lang is None and m:
                lang, start, body = m.group(1) or "plain", number, []
            elif lang is not None and line.rstrip() == "```":
                yield lang, "".join(body), start
                lang = None
            elif lang is not None:
                body.append(line)


def examples(path):
    """Pair each sql block with the text block right after it, if any."""
    found = list(blocks(path))
    result = []
    for i, (lang, text, line) in enumerate(found):
        if lang != "sql":
            continue
        expected = None
        if i + 1 < len(found) and found[i + 1][0] == "text":
            expected = found[i + 1][1]
        result.append((text, expected, line))
    return result


def normalize(text):
    lines = [PSQL_PREFIX.sub("", l).rstrip() for l in text.strip("\n").split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def run_file(path, fill=False):
    cases = examples(path)
    if not cases:
        return 0, 0
    script = ["\\set ON_ERROR_ROLLBACK on", "\\set ON_ERROR_STOP off", "\\set SHOW_CONTEXT never", "BEGIN;"]
    for n, (sql, _, _) in enumerate(cases):
        script.append("\\echo " + MARKER.format(n))
        script.append(sql.rstrip())
    script.append("\\echo " + MARKER.format("end"))
    script.append("ROLLBACK;")
    proc = subprocess.run(["psql", "-X", "-q", "-f", "-"], input="\n".join(script) + "\n",
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=dict(os.environ, PGOPTIONS="-c client_min_messages=warning"))
    parts = re.split(r"^@@doc-example-(\d+|end)@@\n?", proc.stdout, flags=re.M)
    outputs = {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}
    if fill:
        fill_missing(path, cases, outputs)
        return len(cases), 0
    failures = 0
    for n, (sql, expected, line) in enumerate(cases):
        got = normalize(outputs.get(str(n), "<no output: psql stopped?>\n" + proc.stdout[-2000:]))
        where = f"{path}:{line}"
        if expected is None:
            if re.search(r"^(ERROR|FATAL):", got, flags=re.M):
                failures += 1
                print(f"not ok - {where}: example raised an error\n{got}\n")
        elif not normalize(expected):
            failures += 1
            print(f"not ok - {where}: an empty result block (an example without output shows none)\n")
        elif got != normalize(expected):
            failures += 1
            print(f"not ok - {where}: output differs\n--- shown in the docs\n{normalize(expected)}\n--- actual\n{got}\n")
    return len(cases), failures


def fill_missing(path, cases, outputs):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    # insert from the bottom up so earlier line numbers stay valid
    for n in reversed(range(len(cases))):
        sql, expected, line = cases[n]
        if expected is not None:
            continue
        end = line + sql.count("\n")      # index of the closing fence (0-based)
        got = normalize(outputs.get(str(n), ""))
        if not got:
            continue                      # an example without output shows none
        lines[end + 1:end + 1] = ["", "```text"] + got.split("\n") + ["```"]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


def main(argv):
    fill = "--fill" in argv
    paths = [a for a in argv if a != "--fill"]
    total = failed = 0
    for path in paths:
        count, failures = run_file(path, fill)
        total += count
        failed += failures
        print(f"{path}: {count} examples, {failures} failed")
    print(f"docs: {total - failed} passed, {failed} failed")
    return 1 if failed or total == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
