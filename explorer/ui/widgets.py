"""Widgets and helpers every page shares: the error guard, the app's navigation, page headers,
user text shown as literal text."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlencode

import numpy as np
import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError
from streamlit.runtime.pages_manager import PagesManager

from explorer import render
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


def media_url(data: bytes, mimetype: str, place: str) -> str:
    """The address at which this server serves ``data`` to this session, for a picture drawn in
    HTML (one element for many pictures, where st.image is an element each). The file's id is
    the hash of its bytes, so the same picture keeps its address and the browser fetches it
    once; ``place`` names it among the session's files (the next run's picture there replaces
    it, as st.image's does)."""
    from streamlit import runtime

    url = runtime.get_instance().media_file_mgr.add(data, mimetype, place)
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}{url}" if base else url


FOCUS_CSS = """<style>
[data-testid="stSidebarNavLink"]:focus-visible,
[data-testid="stPageLink-NavLink"]:focus-visible,
[data-testid="stBaseButton-elementToolbar"]:focus-visible,
[data-testid="stCode"] pre:focus-visible,
label:has(input[type="checkbox"]:focus-visible),
label:has(input[type="radio"]:focus-visible) {outline: 2px solid #a82c3c !important;
  outline-offset: 1px;}
[data-testid="stMain"]:focus-visible {outline: 2px solid #a82c3c !important;
  outline-offset: -2px;}
[data-testid="stElementToolbar"]:focus-within {opacity: 1 !important;}
</style>"""


def visible_focus() -> None:
    """A visible focus ring on Streamlit's own controls that show only a faint tint (page
    links, toggles, radio options, image toolbars): every control is usable by keyboard.
    The colour is written out: Streamlit does not define a CSS variable for it in the page."""
    st.html(FOCUS_CSS)


@st.cache_data(max_entries=256, show_spinner=False)
def grid_html(
    values: np.ndarray,
    cmap: render.ColourMap,
    cell_px: int = 44,
    vmin: float | None = None,
    vmax: float | None = None,
) -> str:
    """``render.grid_html`` (a small matrix as a coloured HTML table with its numbers), once
    per content for every page and session."""
    return render.grid_html(values, cmap, cell_px, vmin, vmax)


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


def page_header(title: str, intro: str, presenting: bool = False) -> None:
    """A page's title and the few sentences that tell a newcomer what it is for (the teacher
    says those in presenter mode: the screen keeps its room for the lesson)."""
    st.title(title)
    if not presenting:
        st.markdown(intro)


# ============================================================================================
# Presenter mode: one switch (and a link flag) that turns any page into its projector form.
# The sidebar goes, the page's main object comes first, type is scaled for a room, and the
# set-up sections the teacher chose are hidden (as TensorFlow Playground's hidable controls).
# It belongs to the session: every page shows it, every page's address and every link between
# pages carries it, and the lesson's pages are linked at the end of each page (the sidebar and
# its page list are gone).

PRESENT_PARAM = "present"  # ?present=1
HIDE_PARAM = "hide"  # ?hide=image,kernel: the sections hidden while presenting

# Body text 1.3rem (20.8 px), captions and widget values 1.15rem (18.4 px): readable from the
# back of a room at 1280×720. The title is smaller than Streamlit's (the screen is for the
# lesson), the page uses the whole width.
PRESENTER_CSS = """<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stExpandSidebarButton"] {display: none !important;}
[data-testid="stMainBlockContainer"] {padding-top: 1.25rem; padding-bottom: 2rem;
  max-width: 100%;}
[data-testid="stMain"] [data-testid="stMarkdownContainer"] p,
[data-testid="stMain"] [data-testid="stMarkdownContainer"] li,
[data-testid="stMain"] [data-testid="stMarkdownContainer"] td,
[data-testid="stMain"] [data-testid="stMarkdownContainer"] th {font-size: 1.3rem;}
[data-testid="stMain"] [data-testid="stCaptionContainer"],
[data-testid="stMain"] [data-testid="stCaptionContainer"] p,
[data-testid="stMain"] [data-testid="stTable"] td,
[data-testid="stMain"] [data-testid="stTable"] th,
[data-testid="stMain"] [data-baseweb="select"],
[data-testid="stMain"] [data-testid="stNumberInputField"] {font-size: 1.15rem;}
[data-testid="stMain"] h1 {font-size: 2.2rem; padding-top: 0;}
[data-testid="stMain"] h2 {font-size: 1.9rem;}
</style>"""


@dataclass(frozen=True)
class Presenter:
    """Whether the page is in presenter mode, and which of its sections are hidden then."""

    on: bool
    hidden: frozenset[str]

    def shows(self, section: str) -> bool:
        """Whether ``section`` is on the screen (everything is, outside presenter mode)."""
        return not self.on or section not in self.hidden

    def query(self) -> dict[str, str]:
        """The link parameters that open the page in this mode ({} outside it)."""
        if not self.on:
            return {}
        params = {PRESENT_PARAM: "1"}
        if self.hidden:
            params[HIDE_PARAM] = ",".join(sorted(self.hidden))
        return params


def presenting() -> bool:
    """Whether this session is in presenter mode (False before any page has asked)."""
    return bool(st.session_state.get("presenting", False))


def presenter_query() -> dict[str, str]:
    """What a link to another page adds to keep presenter mode ({} outside it). The sections
    hidden are each page's own, so they stay behind."""
    return {PRESENT_PARAM: "1"} if presenting() else {}


def presenter(page: str, sections: Mapping[str, str]) -> Presenter:
    """The presenter mode of ``page``: on or off for the whole session (a teacher presents
    every page), with the sections hidden chosen per page. On the session's first visit the
    link decides. In presenter mode this hides the sidebar and scales the type; call it before
    the page draws anything. ``sections``: name → label of the sections that can be hidden."""
    ss = st.session_state
    params = st.query_params
    if "presenting" not in ss:
        ss["presenting"] = params.get(PRESENT_PARAM) == "1"
    hidden = ss.setdefault("presenting_hidden", {})
    if page not in hidden:
        asked = (params.get(HIDE_PARAM) or "").split(",")
        hidden[page] = [name for name in sections if name in asked]
    mode = Presenter(bool(ss["presenting"]), frozenset(hidden[page]))
    if mode.on:
        st.markdown(PRESENTER_CSS, unsafe_allow_html=True)
    return mode


def keep_presenter_address(mode: Presenter) -> None:
    """For a page without a set-up of its own (Home): its address says whether it is being
    presented, so it is the link that opens it so."""
    if st.query_params.to_dict() != mode.query():
        st.query_params.from_dict(mode.query())


def page_link(page: str, label: str, icon: str, query: Mapping[str, str] | None = None) -> None:
    """A link to another page of the app that keeps presenter mode (and ``query``, the page's
    own parameters)."""
    params = {**presenter_query(), **(query or {})}
    try:
        st.page_link(page, label=label, icon=icon, query_params=params)
    except StreamlitPageNotFoundError:
        # A page run on its own, outside app.py's navigation (AppTest runs pages that way):
        # a plain link to the page's address does the same.
        address = Path(page).stem + (f"?{urlencode(params)}" if params else "")
        st.markdown(f"{icon} [{label}]({address})")


def presenter_controls(page: str, sections: Mapping[str, str], mode: Presenter) -> None:
    """The switch, and the choice of sections to hide: in the sidebar normally, at the end of
    the page in presenter mode (where the sidebar is hidden), with the lesson's other pages."""
    ss = st.session_state
    ss.setdefault("present_switch", ss["presenting"])
    ss.setdefault(f"present_hidden_{page}", list(ss["presenting_hidden"][page]))

    def switched() -> None:
        ss["presenting"] = ss["present_switch"]

    def chose() -> None:
        ss["presenting_hidden"][page] = list(ss[f"present_hidden_{page}"])

    with st.container(border=True) if mode.on else st.sidebar:
        st.toggle(
            "Presenter mode",
            key="present_switch",
            on_change=switched,
            help="For a projector: the sidebar goes, the main picture comes first, the type "
            "gets larger and the sections you choose are hidden. The address keeps it, and "
            "so does every page you open from here.",
        )
        if mode.on:
            st.multiselect(
                "Hide these sections while presenting",
                list(sections),
                format_func=lambda name: sections[name],
                key=f"present_hidden_{page}",
                on_change=chose,
            )
            lesson_links(page)


def lesson_links(page: str) -> None:
    """The lesson's pages as links in presenter mode (the sidebar's page list is hidden), the
    next one first: a teacher moves on without leaving presenter mode."""
    from explorer.learning_path import LESSON

    here = next((i for i, stop in enumerate(LESSON) if Path(stop.page).stem == page), -1)
    others = [stop for i, stop in enumerate(LESSON) if i != here]
    if 0 <= here < len(LESSON) - 1:
        others.insert(0, others.pop(here))  # the next page, first
    with st.container(horizontal=True, gap="medium", key=f"present_pages_{page}"):
        for stop in others:
            page_link(stop.page, stop.title, stop.icon)
