"""The home page, reached through app.py's navigation like a visitor reaches it, and every link
on it followed to the page it promises."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

TIMEOUT = 90  # generous: a loaded CI machine imports torch and runs the model pages slowly


def home() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def cards(at: AppTest) -> list[tuple[str, str, str]]:
    """The "Where to go next" cards: (the card's heading, its link's URL path, the link's
    label), one per column. The URL path is what the browser's address bar shows after the
    click (``/convolution``)."""
    found = []
    for column in at.columns:
        headings = [
            m.value.removeprefix("#### ") for m in column.markdown if m.value.startswith("#### ")
        ]
        links = column.get("page_link")
        if not links:
            continue
        assert len(headings) == 1 and len(links) == 1, (headings, links)
        found.append((headings[0], links[0].proto.page, links[0].proto.label))
    return found


def test_home_page_explains_the_three_layers_and_links_every_page() -> None:
    at = home()
    assert at.title[0].value == "CNN Explorer"
    text = " ".join(m.value for m in at.markdown).lower()
    for idea in ("convolution", "pooling", "fully connected"):
        assert idea in text
    # Every page of the app but home itself has a card with a link, and no two cards share one.
    linked = [page for _, page, _ in cards(at)]
    others = {p.stem for p in (ROOT / "pages").glob("*.py")} - {"home"}
    assert sorted(linked) == sorted(others)
    # Each link is one the browser can follow: a page of app.py's navigation, with its own
    # script hash (what a click sends to the server).
    hashes = [link.proto.page_script_hash for link in at.get("page_link")]
    assert all(hashes) and len(set(hashes)) == len(hashes)


def test_every_link_on_the_home_page_opens_the_page_its_card_describes() -> None:
    """Follow each card's link in the visitor's session, one after the other: the page that
    arrives renders without an exception and carries the title the card announced."""
    at = home()
    followed = cards(at)
    assert len(followed) == len([p for p in (ROOT / "pages").glob("*.py") if p.stem != "home"])
    for heading, url_path, label in followed:
        # app.py gives its pages no custom url_path, so Streamlit names each page's address
        # after its file: /convolution is pages/convolution.py.
        target = f"pages/{url_path}.py"
        assert (ROOT / target).is_file(), f"the link {label!r} points at a missing {target}"
        at.switch_page(target).run()
        assert not at.exception, (label, [e.message for e in at.exception])
        assert at.title and at.title[0].value == heading, (label, target)
        at.switch_page("pages/home.py").run()  # back to the start, as a visitor goes back
        assert at.title[0].value == "CNN Explorer"
