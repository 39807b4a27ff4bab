"""What the student reads, from what AppTest sees."""

from __future__ import annotations

import html


def shown(markdown: str) -> str:
    """Markdown as the screen shows it. Text that quotes user input (a file name, a link's
    value, a weights key) has its punctuation written as character references so it can't
    become markup, and an invisible word joiner keeps bare addresses from becoming links; the
    screen shows the characters themselves."""
    return html.unescape(markdown).replace("\u2060", "")
