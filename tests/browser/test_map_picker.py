"""Feature maps in a real browser: clicking a map's thumbnail enlarges that map (no typing of
map numbers), clicking a gallery thumbnail picks that image, and the address follows."""

from __future__ import annotations

from tests.browser.conftest import SCRIPT_DONE, wait_for_app
from tests.browser.test_thumbnails import grid_ready, wait_for_link


def test_clicking_a_thumbnail_enlarges_that_map(page) -> None:
    wait_for_app(page, "feature_maps?layer=conv2")
    grid_ready(page, "net_map_grid", 64)
    page.get_by_role("radio", name="map 19", exact=True).click()
    wait_for_link(page, layer="conv2", map="19")
    page.wait_for_function(SCRIPT_DONE, timeout=60_000)
    page.get_by_text("conv2 filter 19").first.wait_for()
    chosen = page.get_by_role("radio", name="map 19", exact=True)
    assert chosen.get_attribute("aria-checked") == "true"
    assert not page.js_errors


def test_clicking_a_gallery_thumbnail_picks_that_image(page) -> None:
    from explorer.samples import gallery

    wait_for_app(page, "feature_maps")
    grid_ready(page, "net_gallery_grid", 20)
    item = gallery("cifar10")[7]
    page.get_by_role("radio", name=f"{item.label_name}, gallery image 8", exact=True).click()
    wait_for_link(page, img=item.key)
    page.wait_for_function(SCRIPT_DONE, timeout=60_000)
    page.get_by_text(f"True label: {item.label_name}").wait_for()
    assert page.get_by_text(f"True label: {item.label_name}").count() == 1
    assert not page.js_errors
