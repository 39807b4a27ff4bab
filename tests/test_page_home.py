"""The home page, reached through app.py's navigation like a visitor reaches it."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT


def test_home_page_explains_the_three_layers_and_links_every_page() -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert not at.exception
    assert at.title[0].value == "CNN Explorer"
    text = " ".join(m.value for m in at.markdown).lower()
    for idea in ("convolution", "pooling", "fully connected"):
        assert idea in text
    links = {link.proto.page for link in at.get("page_link")}
    assert links >= {"convolution", "network", "feature_maps"}  # the pages' URL paths


def test_the_playground_opens_from_the_home_page() -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page("pages/convolution.py").run()
    assert not at.exception
    assert at.title[0].value == "Convolution playground"
