"""Widgets and helpers every page shares: the error guard, the app's navigation, page headers,
user text shown as literal text."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from explorer.errors import UserError, literal_markdown

T = TypeVar("T")


def guarded(action: Callable[[], T]) -> T | None:
    """Run ``action``; a user's mistake becomes an ``st.error`` with its sentence, not a
    traceback. Returns None when it failed."""
    try:
        return action()
    except UserError as exc:
        error(str(exc))
        return None


def error(message: str) -> None:
    """A user's mistake as an error box. Messages quote what the user gave (a file name, a
    cell, a link's value), so the whole sentence is shown as literal text, never as Markdown."""
    st.error(literal_markdown(message), icon=":material/warning:")


def warning(message: str, icon: str = ":material/warning:") -> None:
    """A warning box whose text may quote user input: shown literally (see :func:`error`)."""
    st.warning(literal_markdown(message), icon=icon)


def use_app_navigation() -> None:
    """Make sure this page runs inside app.py's navigation, also when opened by its own URL.

    Streamlit (1.67) treats a folder named ``pages/`` beside the entry script as a legacy
    multipage app until ``st.navigation`` has run once in the server process. So the first
    visitor who opens a page's own address — a teacher's share link, say — would get the page
    script run on its own, without app.py's page list and wide layout. Every page calls this
    first: it switches the legacy mode off and reruns, this time through app.py.
    """
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def page_header(title: str, intro: str) -> None:
    """A page's title and the few sentences that tell a newcomer what it is for."""
    st.title(title)
    st.markdown(intro)
