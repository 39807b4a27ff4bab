"""The end of every page on the beginner's path: a two-line recap, the page's words explained
(the glossary's entries, in a box that keeps the page where it is) and a link to the next page.
The link is a page switch inside the session, so the weights, the input and presenter mode
come along."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from explorer.learning_path import STOP_BY_PAGE, next_stop
from explorer.ui import widgets

GLOSSARY_PAGE = "pages/glossary.py"


def words_box(page: str) -> None:
    """The words ``page`` uses, each with its meaning, in a popover."""
    stop = STOP_BY_PAGE[page]
    with st.popover("Words on this page", icon=":material/menu_book:"):
        for term in stop.terms():
            st.markdown(f"**{term.word}**: {term.meaning}")
        widgets.page_link(GLOSSARY_PAGE, "All the words", ":material/menu_book:")


def page_end(file: str) -> None:
    """Recap, words and the next page, at the bottom of the page in ``file`` (a page passes its
    ``__file__``; ``pages/name.py`` works too)."""
    page = f"pages/{Path(file).name}"
    stop = STOP_BY_PAGE[page]
    st.divider()
    st.header("Recap", anchor="recap")
    st.markdown("\n".join(f"- {line}" for line in stop.recap))
    words, forward = st.columns([1, 2], vertical_alignment="center")
    with words:
        words_box(page)
    following = next_stop(page)
    with forward:
        if following is None:
            widgets.page_link("pages/home.py", "Back to the start", ":material/home:")
        else:
            widgets.page_link(
                following.page, f"Next: {following.title}", ":material/arrow_forward:"
            )
