#!/usr/bin/env python3
"""Renders one man page: render.py MD2MAN SOURCE.md OUTPUT.gz VERSION

The Markdown source is the page's only source (go-md2man turns it into roff). A line
"@INCLUDE file@" pulls in another Markdown document (docs/configuration.md for the config page,
so its key table is kept in one place): its title line is dropped, its "###" sections become
the page's subsections, and its table rows become tagged paragraphs (man has no room for wide
tables). The page is compressed as Debian policy asks (gzip -9n: no name, no time stamp)."""
import gzip
import os
import re
import subprocess
import sys
import tempfile


def include(path):
    out, header = [], True
    with open(path, encoding="utf-8") as f:
        for line in f.read().splitlines():
            if line.startswith("# ") or (line.startswith("<!--") and line.endswith("-->")):
                continue
            if line.startswith("###"):
                out.append("## " + line.lstrip("#").strip())
            elif re.fullmatch(r"\|[-| ]+\|", line):
                continue  # a table's rule line
            elif line.startswith("| ") and line.endswith(" |"):
                cells = line[2:-2].split(" | ")
                if header:  # the first row names the columns
                    header = False
                    continue
                key, kind, default, meaning = cells[0], cells[1], cells[2], " | ".join(cells[3:])
                out += [key, f": {kind}; default: {default}. {meaning}", ""]
            else:
                header = True
                out.append(line)
    return out


def main():
    md2man, source, output, version = sys.argv[1:5]
    lines = []
    with open(source, encoding="utf-8") as f:
        for line in f.read().splitlines():
            m = re.fullmatch(r"@INCLUDE (.+)@", line)
            lines += include(os.path.join(os.path.dirname(source), m.group(1))) if m else [line]
    text = "\n".join(lines).replace("@AL_VERSION@", version) + "\n"
    with tempfile.TemporaryDirectory() as tmp:
        md, roff = os.path.join(tmp, "page.md"), os.path.join(tmp, "page")
        with open(md, "w", encoding="utf-8") as f:
            f.write(text)
        subprocess.run([md2man, "-in", md, "-out", roff], check=True)
        with open(roff, "rb") as f:
            data = f.read()
    with open(output, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=raw, mtime=0) as z:
            z.write(data)


if __name__ == "__main__":
    main()
