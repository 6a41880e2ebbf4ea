# SPDX-License-Identifier: MIT
# Input filter for Doxygen (FILTER_PATTERNS in docs/Doxyfile); the sources stay
# as GitHub and a text editor show them.
#
# Doxygen 1.9 expands aliases even inside Markdown code spans, so a page that
# mentions the tag `@stage run` would print "@par Stage:\ilinebr run" and, in
# a table, end the row early. Spell such spans with an escaped @ instead.
s/`@(stage|locking)([^`]*)`/<code>\\@\1\2<\/code>/g
