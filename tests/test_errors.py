"""User text shown literally: nothing a user types becomes Markdown, HTML or a link."""

from __future__ import annotations

import html

import pytest

from explorer.errors import WORD_JOINER, literal_markdown

HOSTILE = [
    "![](//evil.example/i.png)",
    "[Log in again](http://evil.example)",
    "<img src=x onerror=alert(1)>",
    ":red[big] **bold** `code` $x^2$",
    "http://evil.example www.evil.example mail@evil.example",
    "line one\nline two",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_the_screen_shows_exactly_the_text(text: str) -> None:
    safe = literal_markdown(text)
    assert html.unescape(safe).replace(WORD_JOINER, "") == text
    assert not any(ch in safe for ch in "[]()<>*`:_$!@&#;".replace("&#;", "")) or "&#" in safe
    for raw in ("](", "<img", "**", ":red["):
        assert raw not in safe  # Markdown never sees the markup characters themselves
    for address in ("http://", "www.", "@evil"):
        assert address not in html.unescape(safe)  # nor a bare address to link
