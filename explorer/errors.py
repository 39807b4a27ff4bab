"""The one base class for mistakes a user can make (a bad upload, a bad kernel, weights that
are not ours). Pages catch it and show its sentence; anything else is a bug and surfaces."""


class UserError(ValueError):
    """A problem with what the user gave us, described in a sentence a student understands."""


_MARKDOWN_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def literal_markdown(text: str) -> str:
    """``text`` escaped so that Markdown (Streamlit's ``st.markdown``, ``st.error``, …) shows it
    character for character: every ASCII punctuation mark gets a backslash, which CommonMark
    defines as "this character, literally". So ``![](//host/i.png)`` stays text instead of
    making every visitor's browser fetch an outside picture, ``[Log in](http://…)`` is not a
    link, ``:red[x]`` is not a colour and ``<b>`` is not markup. Line breaks are kept."""
    return "".join("\\" + ch if ch in _MARKDOWN_PUNCTUATION else ch for ch in str(text))
