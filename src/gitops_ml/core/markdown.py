"""Markdown that shows text as text: for strings a pull request, a data file or API traffic controls.

A report or issue posted by a trusted job must not let such a string mention people, link or embed
anything, or break the table it stands in. Every such string goes into a code span (GitHub renders
no mention, link, image or HTML inside one), with a fence longer than any run of backticks in it,
its line breaks folded and its length bounded; pipes are escaped so a table cell stays one cell.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

MAX_TEXT = 120
BACKTICKS = re.compile(r"`+")


def code(text: object, limit: int = MAX_TEXT) -> str:
    """``text`` as an inline code span, safe in a table cell."""
    value = " ".join(str(text).split())
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    fence = "`" * (max((len(run) for run in BACKTICKS.findall(value)), default=0) + 1)
    value = value.replace("|", "\\|")
    padded = f" {value} " if value.startswith("`") or value.endswith("`") or not value.strip() else value
    return f"{fence}{padded}{fence}"


def block(text: str, limit: int = 5_000) -> str:
    """``text`` as a fenced code block (a log's tail), whatever fences it holds."""
    value = text if len(text) <= limit else "…" + text[-limit:]
    longest = max((len(run) for run in BACKTICKS.findall(value)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{value}\n{fence}"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], align: str = "") -> str:
    """A table of already-formatted cells (str() of each); ``align`` has a letter per column (l or r), l by default."""
    marks = ["---:" if (align[i : i + 1] == "r") else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(marks) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
