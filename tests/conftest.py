"""Shared test set-up. The repository root is on the import path through pytest's
``pythonpath`` setting (pyproject.toml), so ``explorer``, ``pages``, ``scripts`` and ``bench``
import as packages. Tests run from the root, where Streamlit looks for ``.streamlit/config.toml``
(AppTest included), whichever folder pytest was started from."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.chdir(ROOT)


@pytest.fixture
def navigation_has_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every AppTest run as the server runs once ``st.navigation`` has run in its process.

    AppTest resets Streamlit's process-wide "legacy ``pages/`` folder" flag before each run,
    so each run first executes the page on its own; the page's ``use_app_navigation`` then
    reruns it through app.py, and that rerun drops a button's click (a click lasts one run).
    On the real server the flag stays off after the first visitor, so a click reaches the
    page. Keeping the flag off after AppTest's reset reproduces that server."""
    from streamlit.runtime.pages_manager import PagesManager

    init = PagesManager.__init__

    def after_navigation(self, *args, **kwargs) -> None:
        init(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", after_navigation)


@pytest.fixture
def media(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """URL → the bytes Streamlit serves there, for every media file of the runs that follow
    (pictures, sprite sheets, downloads' files): what a test reads back as the student sees it."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    stored: dict[str, bytes] = {}
    add = MediaFileManager.add

    def remember(self, data, mimetype, coordinates, *args, **kwargs):  # noqa: ANN001, ANN202
        url = add(self, data, mimetype, coordinates, *args, **kwargs)
        if isinstance(data, bytes):
            stored[url] = data
        return url

    monkeypatch.setattr(MediaFileManager, "add", remember)
    return stored
