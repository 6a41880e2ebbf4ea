#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write every code example of the headers and docs pages as a C file.

usage: extract_examples.py OUTDIR FILE...

  include/fencealloc/<h>.h  each @code ... @endcode block of a doc comment
                            becomes <h>-<n>.c, after #include <fencealloc/<h>.h>
  *.md                      the ```c blocks of one page become one file, in
                            page order (a page reads as one program: later
                            blocks use what earlier ones declared), after
                            #include <fencealloc/fencealloc.h>
Both start with #include "example_env.h" (tests/support/): the few names a
driver supplies that no header defines (kvmalloc, spin_lock, ...). #line
directives make the compiler's messages point at the doc file and line.
Blocks with a main() are whole programs and are linked and run.
Prints one line per file: <path> <program|fragment>.
"""
import os
import re
import sys


def header_blocks(path):
    blocks, cur, start = [], None, 0
    with open(path, encoding="utf-8") as f:
        for no, line in enumerate(f, 1):
            body = re.sub(r"^\s*\*( |$)", "", line.rstrip("\n"), count=1)
            if re.search(r"[@\\]endcode\b", body):
                blocks.append((start, cur))
                cur = None
            elif cur is not None:
                cur.append(body)
            elif re.search(r"[@\\]code\b", body):
                cur, start = [], no + 1
    return blocks


def md_blocks(path):
    blocks, cur, start = [], None, 0
    with open(path, encoding="utf-8") as f:
        for no, line in enumerate(f, 1):
            s = line.rstrip("\n")
            if cur is None and re.match(r"^\s*```\s*c\s*$", s):
                cur, start = [], no + 1
            elif cur is not None and re.match(r"^\s*```\s*$", s):
                blocks.append((start, cur))
                cur = None
            elif cur is not None:
                cur.append(s)
    return blocks


def main():
    out, files = sys.argv[1], sys.argv[2:]
    os.makedirs(out, exist_ok=True)
    for path in files:
        base = os.path.basename(path)
        stem = base.rsplit(".", 1)[0]
        if path.endswith(".h"):
            units = [("%s-%d" % (stem, i + 1), "<fencealloc/%s>" % base, [b])
                     for i, b in enumerate(header_blocks(path))]
        else:
            blocks = md_blocks(path)
            units = [("md-" + stem, "<fencealloc/fencealloc.h>", blocks)] if blocks else []
        for name, include, blocks in units:
            text = ['#include "example_env.h"', "#include %s" % include]
            for start, lines in blocks:
                text.append('#line %d "%s"' % (start, path))
                text.extend(lines)
            src = "\n".join(text) + "\n"
            kind = "program" if re.search(r"\bint\s+main\s*\(", src) else "fragment"
            dst = os.path.join(out, name + ".c")
            with open(dst, "w", encoding="utf-8") as f:
                f.write(src)
            print(dst, kind)


if __name__ == "__main__":
    main()
