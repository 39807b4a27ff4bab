"""The one base class for mistakes a user can make (a bad upload, a bad kernel, weights that
are not ours). Pages catch it and show its sentence; anything else is a bug and surfaces."""

import re


class UserError(ValueError):
    """A problem with what the user gave us, described in a sentence a student understands."""


_MARKDOWN_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def literal_markdown(text: str) -> str:
    """``text`` made safe to show inside Markdown (Streamlit's ``st.markdown``, ``st.error``, …)
    character for character: every ASCII punctuation mark is written as a numeric character
    reference (``[`` → ``&#91;``), which CommonMark turns back into that very character after
    parsing. So ``![](//host/i.png)`` stays text instead of making every visitor's browser
    fetch an outside picture, ``[Log in](…)`` is not a link, ``:red[x]`` is not a
    colour, ``<b>`` is not markup — and a bare web address is not auto-linked either, which a
    backslash escape does not prevent (GitHub-flavoured Markdown links bare addresses).

    Bare addresses are found in the text after the references are decoded, so an invisible
    WORD JOINER (U+2060) is also put where an address would start (after a scheme like http, after
    ``www``, after ``@``): the screen shows the same characters, and nothing becomes a link."""
    text = _AUTOLINK_STARTS.sub("\\g<0>" + WORD_JOINER, str(text))
    return "".join(f"&#{ord(ch)};" if ch in _MARKDOWN_PUNCTUATION else ch for ch in text)


WORD_JOINER = "\u2060"
_AUTOLINK_STARTS = re.compile(r"(?i)\b(?:https?|ftp|mailto|www|xmpp)(?=[:.])|@")
