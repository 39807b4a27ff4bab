"""What the student reads, from what AppTest sees."""

from __future__ import annotations

import re


def shown(markdown: str) -> str:
    """Markdown as the screen shows it. Text that quotes user input (a file name, a link's
    value, a weights key) is escaped with backslashes so it can't become markup; the screen
    shows the characters themselves."""
    return re.sub(r"\\(.)", r"\1", markdown)
