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
        if not links or not headings:  # the claims' links and the page's end are not cards
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
    hashes = {(link.proto.page, link.proto.page_script_hash) for link in at.get("page_link")}
    assert all(h for _, h in hashes) and len({h for _, h in hashes}) == len({p for p, _ in hashes})


def test_the_three_claims_link_to_their_experiments_and_quote_the_measurement() -> None:
    from explorer.shift_lab import shipped_summary

    at = home()
    summary = shipped_summary("cifar10")
    assert summary is not None
    claims = [
        (" ".join(m.value for m in c.markdown), [link.proto.page for link in c.get("page_link")])
        for c in at.columns
        if any(link.proto.page.startswith("why_") for link in c.get("page_link"))
        and not any(m.value.startswith("#### ") for m in c.markdown)  # not a "next" card
    ]
    assert [pages for _, pages in claims] == [
        ["why_sharing"],
        ["why_translation"],
        ["why_hierarchy"],
    ]
    shifts = claims[1][0]
    assert f"**{summary.flip_rate:.1%}**" in shifts and f"**{summary.consistency:.1%}**" in shifts
    assert "only approximately invariant" in shifts


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


def test_presenting_home_hides_the_sidebar_and_every_link_keeps_presenter_mode() -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params.update({"present": "1", "hide": "why"})
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    css = " ".join(m.value for m in at.markdown if m.value.startswith("<style>"))
    assert '[data-testid="stSidebar"]' in css and "display: none" in css  # the sidebar goes
    subheaders = [h.value for h in at.subheader]
    assert "What is a CNN?" in subheaders
    assert "Why does it work so well for images?" not in subheaders  # hidden by the link
    assert dict(at.query_params) == {"present": "1", "hide": "why"}  # the address keeps it
    links = at.get("page_link")
    assert {link.proto.page for link in links} >= {
        "convolution",
        "network",
        "feature_maps",
        "inside",
        "train",
    }
    assert all(link.proto.query_string == "present=1" for link in links), [
        (link.proto.page, link.proto.query_string) for link in links
    ]
    # Followed, a card's link opens its page still presenting, with the flag in its address.
    at.switch_page("pages/network.py").run()
    assert not at.exception
    assert dict(at.query_params).get("present") == "1"


def test_outside_presenter_mode_links_carry_nothing_extra() -> None:
    at = home()
    assert all(link.proto.query_string == "" for link in at.get("page_link"))
    assert dict(at.query_params) == {}
