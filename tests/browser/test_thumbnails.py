"""The thumbnail grids in a real browser — the gallery, conv3's 128 maps, the playground's
samples — at a phone's 390 px, the projector's 1280 px and a 1920 px screen: every thumbnail on
the screen's width (nothing cut off, no scroll box, no table toolbar), each with its accessible
name, its picture loaded; the keyboard picks one (Tab, arrows, Enter, Space); and a click right
after a layer switch counts."""

from __future__ import annotations

import pytest

from explorer.samples import SAMPLES, gallery
from tests.browser.conftest import SCRIPT_DONE

SIZES = [(390, 844), (1280, 720), (1920, 1080)]
GRIDS = {  # key: (page, thumbnails, the accessible name of thumbnail 0, of the last)
    "net_map_grid": ("feature_maps?layer=conv3", 128, "map 0", "map 127"),
    "net_gallery_grid": (
        "feature_maps",
        20,
        f"{gallery('cifar10')[0].label_name}, gallery image 1",
        f"{gallery('cifar10')[19].label_name}, gallery image 20",
    ),
    "conv_sample_grid": (
        "convolution",
        len(SAMPLES),
        next(iter(SAMPLES.values())).name,
        list(SAMPLES.values())[-1].name,
    ),
}

# Every thumbnail of grid `key` against the screen and the grid: boxes, names, pictures.
MEASURE = """key => {
  const host = document.querySelector(`.st-key-${key} [data-testid="stBidiComponentIsolated"]`);
  const root = host.shadowRoot.querySelector('.tn-root');
  const screenWidth = document.documentElement.clientWidth;
  const grid = root.getBoundingClientRect();
  const items = [...root.querySelectorAll('.tn-item')].map(b => {
    const r = b.getBoundingClientRect();
    const pic = getComputedStyle(b.querySelector('.tn-pic'));
    return {left: r.left, right: r.right, width: r.width, height: r.height,
            name: b.getAttribute('aria-label'), role: b.getAttribute('role'),
            checked: b.getAttribute('aria-checked'), picture: pic.backgroundImage};
  });
  const clipped = [];  // ancestors whose visible box does not hold the whole grid's width
  for (let a = host.parentElement; a && a !== document.body; a = a.parentElement) {
    if (getComputedStyle(a).overflowX === 'visible') continue;
    const r = a.getBoundingClientRect();
    const shownLeft = r.left + a.clientLeft;
    if (grid.left < shownLeft - 1 || grid.right > shownLeft + a.clientWidth + 1) {
      clipped.push(a.className);
    }
  }
  const rootStyle = getComputedStyle(root);
  return {screenWidth, grid: {left: grid.left, right: grid.right},
          rootScrolls: root.scrollHeight > root.clientHeight + 1
            || !['visible', 'clip'].includes(rootStyle.overflowY) && rootStyle.overflowY !== '',
          role: root.getAttribute('role'), label: root.getAttribute('aria-label'),
          items, clipped,
          sheet: getComputedStyle(root).getPropertyValue('--tn-sheet')};
}"""


def grid_ready(page, key: str, count: int) -> None:
    page.wait_for_function(
        """([key, n]) => { const h = document.querySelector(
              `.st-key-${key} [data-testid="stBidiComponentIsolated"]`);
            return h && h.shadowRoot
                && h.shadowRoot.querySelectorAll('.tn-item').length === n; }""",
        arg=[key, count],
        timeout=60_000,
    )


def wait_for_link(page, **params: str) -> None:
    """Until the address bar's query has these values (the page keeps it a link to what it
    shows), read in the browser itself."""
    page.wait_for_function(
        """want => { const q = new URLSearchParams(location.search);
            return Object.entries(want).every(([k, v]) => q.get(k) === v); }""",
        arg=params,
        timeout=60_000,
    )


@pytest.fixture
def sized(browser, app_url: str, request):
    """A page at the size the test is parametrised with (390 px as a phone)."""
    width, height = request.param
    context = browser.new_context(
        viewport={"width": width, "height": height}, is_mobile=width < 500, has_touch=width < 500
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.app_url = app_url
    page.js_errors = errors
    yield page
    context.close()


@pytest.mark.parametrize("sized", SIZES, indirect=True, ids=lambda s: f"{s[0]}px")
@pytest.mark.parametrize("key", list(GRIDS))
def test_every_thumbnail_fits_the_width_with_its_name_and_picture(sized, key: str) -> None:
    page = sized
    path, count, first, last = GRIDS[key]
    page.goto(f"{page.app_url}/{path}")
    grid_ready(page, key, count)
    page.wait_for_function(SCRIPT_DONE, timeout=60_000)
    found = page.evaluate(MEASURE, key)
    assert found["role"] == "radiogroup" and found["label"], found["label"]
    assert not found["rootScrolls"], "the grid is a scroll box"
    assert found["clipped"] == [], f"cut off by {found['clipped']}"
    screen, grid = found["screenWidth"], found["grid"]
    items = found["items"]
    assert len(items) == count
    for i, item in enumerate(items):
        where = f"{key} thumbnail {i} at {page.viewport_size}"
        assert item["left"] >= 0 and item["right"] <= screen, where  # on the screen's width
        assert grid["left"] - 1 <= item["left"] and item["right"] <= grid["right"] + 1, where
        assert item["width"] >= 24 and item["height"] >= 24, where  # a target a finger can hit
        assert item["role"] == "radio" and item["checked"] in ("true", "false"), where
        assert "url(" in item["picture"], where
    names = [item["name"] for item in items]
    assert names[0] == first and names[-1] == last and len(set(names)) == count
    assert [item["checked"] for item in items].count("true") == 1
    # The accessible name as the browser computes it, not just the attribute.
    assert page.get_by_role("radio", name=first, exact=True).count() == 1
    # The picture sheet is served (once, by its content's address).
    sheet = found["sheet"].strip()
    address = sheet[sheet.index("(") + 1 : sheet.rindex(")")].strip("\"'")
    response = page.request.get(page.app_url + address)
    assert response.status == 200 and response.headers["content-type"] == "image/png"
    # No data table and no table toolbar, not even when the pointer is over the grid.
    container = page.locator(f".st-key-{key}")
    if not page.viewport_size["width"] < 500:
        page.get_by_role("radio", name=first, exact=True).hover()
    assert container.locator("[data-testid='stElementToolbar']").count() == 0
    assert container.locator("[data-testid='stDataFrame']").count() == 0
    assert page.js_errors == []


@pytest.mark.parametrize("sized", [(1280, 720)], indirect=True, ids=["1280px"])
def test_the_keyboard_reaches_a_map_moves_with_the_arrows_and_picks_it(sized) -> None:
    page = sized
    page.goto(f"{page.app_url}/feature_maps?layer=conv3")
    grid_ready(page, "net_map_grid", 128)
    page.wait_for_function(SCRIPT_DONE, timeout=60_000)
    number = page.get_by_label("Map (0–127)")
    number.scroll_into_view_if_needed()
    number.focus()
    for _ in range(8):  # Tab from the map number to the grid: one stop, the chosen map
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => { let a = document.activeElement;
                while (a && a.shadowRoot && a.shadowRoot.activeElement)
                    a = a.shadowRoot.activeElement;
                return a && a.getAttribute('aria-label'); }"""
        )
        if focused == "map 0":
            break
    assert focused == "map 0"
    per_row = page.evaluate(
        """() => { const h = document.querySelector(
              '.st-key-net_map_grid [data-testid="stBidiComponentIsolated"]');
            const tops = [...h.shadowRoot.querySelectorAll('.tn-item')].map(b => b.offsetTop);
            return tops.filter(t => t === tops[0]).length; }"""
    )
    for key in ("ArrowRight", "ArrowRight", "ArrowDown"):
        page.keyboard.press(key)
    target = 2 + per_row
    page.keyboard.press("Enter")
    wait_for_link(page, map=str(target))
    page.wait_for_function(SCRIPT_DONE, timeout=60_000)
    page.get_by_text(f"conv3 filter {target}").first.wait_for()
    chosen = page.get_by_role("radio", name=f"map {target}", exact=True)
    assert chosen.get_attribute("aria-checked") == "true"
    page.keyboard.press("ArrowLeft")
    page.keyboard.press(" ")  # Space picks too
    wait_for_link(page, map=str(target - 1))
    assert page.js_errors == []


@pytest.mark.parametrize("sized", [(1280, 720)], indirect=True, ids=["1280px"])
def test_a_click_right_after_a_layer_switch_counts(sized) -> None:
    page = sized
    page.goto(f"{page.app_url}/feature_maps?layer=conv2")
    grid_ready(page, "net_map_grid", 64)
    page.wait_for_function(SCRIPT_DONE, timeout=60_000)
    page.locator(".st-key-net_map_grid").scroll_into_view_if_needed()
    # Another layer, and at once a click on the grid still on the screen.
    box = page.get_by_test_id("stSelectbox").filter(has_text="Layer")
    box.click()
    page.keyboard.type("conv3")
    page.get_by_role("option", name="conv3").first.click()
    page.get_by_role("radio", name="map 19", exact=True).click()
    wait_for_link(page, layer="conv3", map="19")
    # The new grid: clicked as soon as it is drawn, the run perhaps still going.
    grid_ready(page, "net_map_grid", 128)
    page.get_by_role("radio", name="map 100", exact=True).click()
    wait_for_link(page, map="100")
    page.wait_for_function(SCRIPT_DONE, timeout=60_000)
    page.get_by_text("conv3 filter 100").first.wait_for()
    # The same thumbnail twice, with another map picked in between by its number: both count.
    number = page.get_by_label("Map (0–127)")
    number.fill("5")
    number.press("Enter")
    wait_for_link(page, map="5")
    page.wait_for_function(SCRIPT_DONE, timeout=60_000)
    page.get_by_role("radio", name="map 100", exact=True).click()
    wait_for_link(page, map="100")
    assert page.js_errors == []


@pytest.mark.parametrize("sized", [(390, 844)], indirect=True, ids=["390px"])
def test_a_tapped_sample_becomes_the_playgrounds_image(sized) -> None:
    page = sized
    page.goto(f"{page.app_url}/convolution")
    grid_ready(page, "conv_sample_grid", len(SAMPLES))
    page.wait_for_function(SCRIPT_DONE, timeout=60_000)
    page.get_by_role("radio", name=SAMPLES["checkerboard"].name, exact=True).tap()
    wait_for_link(page, sample="checkerboard")
    page.wait_for_function(SCRIPT_DONE, timeout=60_000)
    page.get_by_text(SAMPLES["checkerboard"].description).wait_for()
    chosen = page.get_by_role("radio", name=SAMPLES["checkerboard"].name, exact=True)
    assert chosen.get_attribute("aria-checked") == "true"
    assert page.js_errors == []
