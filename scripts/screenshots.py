"""Screenshots of every page, as a user sees them, for the README and for review.

    python -m scripts.screenshots [OUT_DIR]     (default docs/screenshots)

Starts the app on a free port, opens each page in Debian's headless Chromium and saves a
viewport-sized PNG (and a full-page one with the suffix _full).
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

from scripts.chromium import launch_chromium
from scripts.server import serve

PRESENTER = [
    ("?present=1", "presenter_home"),
    (
        "convolution?present=1&hide=image,kernel,settings&k=laplacian_8&sample=ship",
        "presenter_convolution",
    ),
    ("feature_maps?present=1&hide=input,sees,compare,detail,filters", "presenter_feature_maps"),
    ("network?present=1&hide=table,parameters,print,dropout", "presenter_network"),
    ("inside?present=1", "presenter_inside"),
    ("train?present=1", "presenter_train"),
]
PHONE = [("convolution", "phone_convolution"), ("feature_maps", "phone_feature_maps")]
# True once Streamlit has finished the current run (the same check as the browser tests').
SCRIPT_DONE = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return app && app.getAttribute('data-test-script-state') === 'notRunning'
        && !document.querySelector('[data-testid="stStatusWidget"]');
}"""

PAGES = [
    ("home", "Start here"),
    ("convolution", "Convolution playground"),
    ("network", "The network"),
    ("feature_maps", "Feature maps"),
    ("why_translation", "Why CNNs: shifts"),
    ("why_sharing", "Why CNNs: shared weights"),
    ("why_hierarchy", "Why CNNs: a hierarchy"),
    ("own_classes", "Teach it your classes"),
]


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with serve("app.py", out / "streamlit.log") as url, sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{url}/")
        for name, label in PAGES:
            page.get_by_test_id("stSidebarNav").get_by_text(label, exact=True).click()
            page.wait_for_timeout(1500)
            page.wait_for_function(
                "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
                timeout=60_000,
            )
            page.wait_for_timeout(1500)  # images and charts paint after the run ends
            page.screenshot(path=str(out / f"{name}_full.png"), full_page=True)
            if name == "convolution":  # the player mid-way, in view
                page.get_by_text("4 · Watch it slide").scroll_into_view_if_needed()
                page.mouse.wheel(0, -120)
                page.get_by_test_id("cp-play").click()
                page.wait_for_timeout(1000)
                page.get_by_test_id("cp-play").click()
                # then, as a user dragging the scrub bar, to a window on the circle's edge
                page.get_by_test_id("cp-scrub").evaluate(
                    "e => { e.value = 614; e.dispatchEvent(new Event('input'));"
                    " e.dispatchEvent(new Event('change')); }"
                )
                page.wait_for_timeout(500)
            page.screenshot(path=str(out / f"{name}.png"))
            print(f"{name}: {out / name}.png")
        # A projector: presenter mode at 1280×720, the lesson on the first screen.
        projector = browser.new_page(viewport={"width": 1280, "height": 720})
        phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
        for shot_page, path, name in [
            *((projector, p, n) for p, n in PRESENTER),
            *((phone, p, n) for p, n in PHONE),
        ]:
            shot_page.goto(f"{url}/{path}")
            shot_page.wait_for_function(SCRIPT_DONE, timeout=60_000)
            shot_page.wait_for_timeout(2000)
            shot_page.screenshot(path=str(out / f"{name}.png"))
            print(f"{name}: {out / name}.png")
        browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/screenshots"))
