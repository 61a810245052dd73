#!/usr/bin/env python3
"""Size limits for core/: no source file longer than 400 lines, no function longer than 60.

Function lengths come from pmccabe (a C/C++ complexity tool: it reports each function's first line
and its length in lines, signature to closing brace). pmccabe does not understand C++17 nested
namespace definitions (`namespace a::b {`), so each file is rewritten to the equivalent nested form
before it is measured; a file pmccabe cannot parse fails the check rather than being skipped.

Usage: size_limits.py CORE_DIR
"""
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60

NESTED = re.compile(r"^namespace ([A-Za-z_][\w:]*::[\w:]+) \{(.*)$")


def strip_code(line):
    """The line without string/char literals and // comments, for counting braces."""
    line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    line = re.sub(r"'(\\.|[^'\\])*'", "''", line)
    return line.split("//", 1)[0]


def unnest_namespaces(text):
    """`namespace a::b {` ... `}` becomes `namespace a { namespace b {` ... `} }`."""
    out, depth, closers = [], 0, {}  # closers: depth after the closing brace -> extra braces
    for line in text.split("\n"):
        m = NESTED.match(line)
        if m:
            names = m.group(1).split("::")
            line = " ".join(f"namespace {n} {{" for n in names) + m.group(2)
            closers[depth] = len(names) - 1
            depth += 1
            out.append(line)
            continue
        code = strip_code(line)
        for ch in code:
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth in closers and code.strip().startswith("}"):
                    line = "}" * closers.pop(depth) + line
        out.append(line)
    return "\n".join(out)


def main():
    core = pathlib.Path(sys.argv[1])
    if shutil.which("pmccabe") is None:
        print("pmccabe is not installed (apt-get install pmccabe; scripts/lib.sh installs it)")
        return 1
    files = sorted(p for p in core.rglob("*") if p.suffix in (".cpp", ".hpp"))
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            text = path.read_text()
            lines = text.count("\n")
            if lines > MAX_FILE_LINES:
                problems.append(f"{path}: {lines} lines (limit {MAX_FILE_LINES})")
            copy = pathlib.Path(tmp) / path.name
            copy.write_text(unnest_namespaces(text))
            run = subprocess.run(["pmccabe", str(copy)], capture_output=True, text=True)
            if run.returncode != 0 or run.stderr.strip():
                problems.append(f"{path}: pmccabe could not parse it: {run.stderr.strip()}")
                continue
            for row in run.stdout.splitlines():
                fields = row.split("\t")
                length, where = int(fields[4]), fields[5]
                name = where.split(": ", 1)[1]
                first = int(fields[3])
                if length > MAX_FUNCTION_LINES:
                    problems.append(f"{path}:{first}: {name} is {length} lines "
                                    f"(limit {MAX_FUNCTION_LINES})")
    for p in problems:
        print(p)
    print(f"{len(files)} files under {core} checked: {len(problems)} over the limits")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
