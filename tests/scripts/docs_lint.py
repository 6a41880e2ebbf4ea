#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Rendering checks on the Doxygen HTML (run by `make docs`).

usage: docs_lint.py HTML_DIR REPO_ROOT

Doxygen's own warnings catch undocumented symbols, not pages that render
wrongly. This script reads every generated page the way a browser shows it
and fails when a reader would see Doxygen's plumbing instead of the text:

  ilinebr      an alias expanded where Doxygen cannot finish it (inside a
               code span it leaves "@par Stage:\\ilinebr")
  raw table    a Markdown table that did not become an HTML table (its
               "|---|" row, or "| a | b |" cells, left in the prose)
  @-tag        a Doxygen command printed as text (@stage, @param, \\ref...)
  abs path     the build machine's checkout path or home directory in a
               page, a file name or an anchor (deep links must not depend
               on where the repository was cloned)
  picture      an <img>/<object> whose file is not in the output
  no {#label}  a docs/*.md page named after its path (md_docs_x.html)
  fa__ symbol  an internal fa__* / FA__* name published as API (outside the
               verbatim header listings *_source.html, and a macro's
               replacement text, which shows how it expands, not an API)

and it asserts that the design page shows the stage table as a <table>.
"""
import html
import html.parser
import os
import re
import sys

# Doxygen commands that must never reach the reader as text.
TAGS = ("stage|locking|param|tparam|return|returns|retval|brief|details|code|endcode|"
        "note|warning|par|ref|file|defgroup|ingroup|cond|endcond|see|sa|pre|post|"
        "internal|endinternal|copydoc|snippet|include|dontinclude|verbatim|endverbatim|"
        "ilinebr")
TAG_RE = re.compile(r"(?:^|[\s(])[@\\](?:%s)\b" % TAGS)
# Inside code spans an @-word is often meant literally (`@stage submit`), but
# these forms only appear when an alias or command was expanded half-way.
CODE_TAG_RE = re.compile(r"@par\s|[@\\](?:param|return|retval|brief|ref)\s")
SEP_ROW_RE = re.compile(r"\|\s*:?[-\u2013\u2014]{1,}:?\s*\|")
CELLS_RE = re.compile(r"(?:^|\s)\|\s[^|\n]+\s\|\s[^|\n]+\s\|")
INTERNAL_RE = re.compile(r"\b(?:fa__|FA__)[A-Za-z0-9_]")
# Doxygen prints a macro's value after three no-break spaces, up to </td>.
MACRO_VALUE_RE = re.compile(r"&#160;&#160;&#160;(?:[^<]|<a [^>]*>|</a>)*</td>")


class Page(html.parser.HTMLParser):
    """Visible text of one page, split into prose and code."""

    SKIP = {"script", "style", "head"}
    CODE = {"code", "pre", "tt"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.skip = 0
        self.code = 0
        self.fragment = 0
        self.stack = []
        self.prose = []
        self.codes = []
        self.tables = []  # text of each <table>
        self.table_depth = 0
        self.table_text = []

    def handle_starttag(self, tag, attrs):
        cls = dict(attrs).get("class") or ""
        entry = (tag, tag in self.SKIP, tag in self.CODE or "fragment" in cls.split())
        self.stack.append(entry)
        self.skip += entry[1]
        self.code += entry[2]
        if tag == "table":
            self.table_depth += 1
            if self.table_depth == 1:
                self.table_text = []
        if tag in ("br", "p", "div", "tr", "li") and not self.code:
            self.prose.append("\n")

    def handle_startendtag(self, tag, attrs):
        if tag == "br":
            self.prose.append("\n")

    def handle_endtag(self, tag):
        # pop to the matching start tag (Doxygen's HTML is well nested, but
        # void elements such as <img> never close)
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                for t, s, c in self.stack[i:]:
                    self.skip -= s
                    self.code -= c
                del self.stack[i:]
                break
        if tag == "table" and self.table_depth:
            self.table_depth -= 1
            if self.table_depth == 0:
                self.tables.append(" ".join(self.table_text))
        if tag in ("p", "div", "tr", "li", "td", "th") and not self.code:
            self.prose.append("\n")

    def handle_data(self, data):
        if self.skip:
            return
        (self.codes if self.code else self.prose).append(data)
        if self.table_depth:
            self.table_text.append(data)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    out, root = sys.argv[1], os.path.realpath(sys.argv[2])
    bad_paths = {root, root.replace("/", "_"), root.replace("/", "_").replace("_", "__")}
    home = os.path.expanduser("~")
    if home not in ("", "/"):
        bad_paths.add(home.rstrip("/") + "/")
    bad_paths = sorted(p for p in bad_paths if len(p) > 4)
    problems = []

    def report(page, what, text):
        text = " ".join(text.split())
        problems.append("%s: %s: %s" % (page, what, text[:160]))

    names = sorted(os.listdir(out))
    for name in names:
        if name.startswith("md_") and name.endswith(".html"):
            report(name, "page without a {#label}", "its name comes from its path")
        for p in bad_paths:
            if p in name:
                report(name, "absolute path in a file name", p)
    for name in names:
        path = os.path.join(out, name)
        if not name.endswith((".html", ".js")) or not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            raw = f.read()
        for p in bad_paths:
            i = raw.find(p)
            if i >= 0:
                report(name, "absolute path of the build machine", raw[max(0, i - 60):i + 60])
        i = raw.find("ilinebr")
        if i >= 0:
            report(name, "ilinebr (an alias expanded inside a code span?)",
                   html.unescape(raw[max(0, i - 80):i + 40]))
        if not name.endswith(".html"):
            continue
        for ref in re.findall(r'<(?:img|object)\b[^>]*?(?:src|data)="([^"#?:]+)"', raw):
            if not os.path.exists(os.path.join(out, ref)):
                report(name, "missing picture", ref)
        page = Page()
        page.feed(raw)
        prose = "".join(page.prose)
        for line in prose.split("\n"):
            if SEP_ROW_RE.search(line) or CELLS_RE.search(line):
                report(name, "raw Markdown table row", line)
            m = TAG_RE.search(line)
            if m:
                report(name, "unexpanded Doxygen command", line[max(0, m.start() - 40):m.end() + 60])
        for code in page.codes:
            m = CODE_TAG_RE.search(code)
            if m:
                report(name, "half-expanded Doxygen command in code", code[:120])
        if not name.endswith("_source.html"):
            api = Page()
            api.feed(MACRO_VALUE_RE.sub("</td>", raw))
            for text in ["".join(api.prose)] + api.codes:
                for m in INTERNAL_RE.finditer(text):
                    report(name, "internal symbol published", text[max(0, m.start() - 40):m.end() + 40])
        if name == "design.html":
            ok = [t for t in page.tables if "@stage submit" in t and "may allocate" in t]
            if not ok:
                report(name, "stage table missing", "no <table> holding '@stage submit' and 'may allocate'")

    if "design.html" not in names:
        problems.append("design.html: missing (docs/design.md lost its {#design} label?)")
    for p in problems:
        print("docs: " + p)
    if problems:
        print("docs: %d rendering problem(s) in %s" % (len(problems), out))
        return 1
    print("docs: rendering checks passed on %d pages" % sum(n.endswith(".html") for n in names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
