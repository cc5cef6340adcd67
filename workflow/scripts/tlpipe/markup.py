"""Values from the data or the config, made safe to put into the report's Markdown.

A class folder, a dataset name or a path can hold any character, and what the Markdown
pages show must stay text: ``<img src=x onerror=...>`` must not become an element where
a renderer passes HTML through, ``[x](javascript:...)`` not a link, ``|`` not a new
table cell. The HTML page needs nothing from here: its template is autoescaped.
"""

from __future__ import annotations

import re
from typing import Any

# HTML's three, as entities (Markdown renderers show them as the characters); then the
# characters that start Markdown syntax inline, escaped with a backslash (CommonMark
# shows any escaped ASCII punctuation as itself).
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_SYNTAX = re.compile(r"([\\`*_\[\]|#!~])")


def markdown_text(value: Any) -> str:
    """``value`` as text in Markdown (a table cell, a list item, a heading)."""
    text = "".join(_ENTITIES.get(ch, ch) for ch in str(value))
    return _SYNTAX.sub(r"\\\1", text)


def markdown_code(value: Any) -> str:
    """``value`` as a Markdown code span: fenced with more backticks than any run of them
    inside it, so nothing in it can end the span (inside a span nothing else is markup)."""
    text = " ".join(str(value).splitlines())
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


#: The Jinja filters of the Markdown templates: ``{{ name | md }}``, ``{{ path | md_code }}``.
FILTERS = {"md": markdown_text, "md_code": markdown_code}
