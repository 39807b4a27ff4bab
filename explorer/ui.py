"""The one module that imports Streamlit: cached loaders and widgets shared by the pages.

Pages import from here and from the rest of ``explorer``; nothing else in ``explorer`` imports
Streamlit, so all computation stays testable (and runnable on a GPU machine) without it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import streamlit as st

from explorer.errors import UserError

T = TypeVar("T")


def guarded(action: Callable[[], T]) -> T | None:
    """Run ``action``; a user's mistake becomes an ``st.error`` with its sentence, not a
    traceback. Returns None when it failed."""
    try:
        return action()
    except UserError as exc:
        st.error(str(exc), icon="⚠️")
        return None


def page_header(title: str, intro: str) -> None:
    """A page's title and the few sentences that tell a newcomer what it is for."""
    st.title(title)
    st.markdown(intro)
