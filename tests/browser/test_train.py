"""The Train page in a real browser: a tiny run from a link, stepped so that its curves visibly
move, then finished; its network, opened on Feature maps as "Your network (trained here)",
gives the answer that the downloaded state_dict gives in plain PyTorch. The controls are on the
first screen of a phone; and a closed tab's run is stopped, so the next student's starts."""

from __future__ import annotations

import re

import numpy as np
import torch
from playwright.sync_api import expect

from explorer.model import DIGIT_CLASSES, MNIST_PREPROCESSING, SimpleCNN
from explorer.samples import gallery, load_gallery_image
from scripts.server import serve
from tests.browser.conftest import SCRIPT_DONE, new_page, wait_for_app

TINY = "train?n=200&ep=1&bs=64"  # 4 steps of 64 digits
PROGRESS = "[data-testid='stProgress']"
# The held-out loss curve's steps, as Plotly holds them in the page (the trace "held-out
# images" of the loss panel, the first of that name) — of the chart on the screen: while React
# redraws, an old copy may linger for a moment, hidden and without height. (The replay's chart,
# under the run, is another one.)
HELD_OUT_STEPS = """() => {
    const plots = Array.from(document.querySelectorAll(
        '[data-testid="stPlotlyChart"] .js-plotly-plot'))
        .filter(p => p.data && p.style.visibility !== 'hidden'
            && p.getBoundingClientRect().height > 0 && !p.closest('.st-key-replay_curves'));
    if (plots.length !== 1) return null;
    const trace = plots[0].data.find(t => t.name === 'held-out images');
    return trace ? Array.from(trace.x) : null;
}"""


def progress_text(page) -> str:
    return page.locator(PROGRESS).inner_text()


def wait_for_progress(page, pattern: str, timeout: float = 90_000) -> str:
    """Wait until the progress bar's words match ``pattern`` (a regular expression)."""
    page.wait_for_function(
        """(pattern) => { const p = document.querySelector("[data-testid='stProgress']");
            return p && new RegExp(pattern).test(p.innerText); }""",
        arg=pattern,
        timeout=timeout,
    )
    return progress_text(page)


def held_out_steps(page, last: int) -> list[int]:
    """The held-out curve's steps once its last point is at step ``last``."""
    page.wait_for_function(
        f"() => {{ const s = ({HELD_OUT_STEPS})(); return s && s[s.length - 1] === {last}; }}",
        timeout=90_000,
    )
    return page.evaluate(HELD_OUT_STEPS)


def test_a_tiny_run_moves_its_curves_and_its_network_answers_as_plain_pytorch(page, tmp_path):
    wait_for_app(page, TINY)
    page.get_by_role("button", name="Start").click()
    step = page.get_by_role("button", name="One step")
    expect(step).to_be_enabled(timeout=30_000)
    step.click()  # the worker is still starting: it stops after its first batch
    said = wait_for_progress(page, r"Paused\. Step 1 of 4|Finished")
    assert said.startswith("Paused. Step 1 of 4"), f"the run ended before it was stepped: {said}"
    assert held_out_steps(page, 1) == [0, 1]

    step.click()  # one more batch: the curves grow by a point
    wait_for_progress(page, r"Paused\. Step 2 of 4")
    assert held_out_steps(page, 2) == [0, 1, 2]

    page.get_by_role("button", name="Resume").click()
    wait_for_progress(page, r"Finished\. Step 4 of 4")
    assert held_out_steps(page, 4)[:3] == [0, 1, 2]  # and the epoch's end (step 4)
    expect(page.get_by_text("conv1's 32 filters at step 4")).to_be_visible()
    expect(page.get_by_text("The maps they make of one image at step 4")).to_be_visible()

    with page.expect_download() as download:
        page.get_by_role("button", name="The weights (state_dict, .pt)").click()
    path = tmp_path / "trained.pt"
    download.value.save_as(path)
    model = SimpleCNN()
    model.load_state_dict(torch.load(path, weights_only=True))
    model.eval()

    page.get_by_role("button", name="Look inside it on the network pages").click()
    heading = page.locator("h4", has_text="The network says")
    heading.wait_for(timeout=90_000)
    page.wait_for_function(SCRIPT_DONE, timeout=90_000)
    expect(page.get_by_role("combobox", name="Weights")).to_have_value(
        "Your network (trained here)"
    )
    shown = page.get_by_role("combobox", name="Test image").input_value()
    (item,) = [i for i in gallery("mnist") if i.source in shown]

    x = torch.from_numpy(load_gallery_image(item).astype(np.float32) / 255).permute(2, 0, 1)
    mean = torch.tensor(MNIST_PREPROCESSING.mean).view(3, 1, 1)
    std = torch.tensor(MNIST_PREPROCESSING.std).view(3, 1, 1)
    with torch.no_grad():
        p = torch.softmax(model(((x - mean) / std)[None]), dim=1)[0]
    answer = DIGIT_CLASSES[int(p.argmax())]
    said = heading.inner_text()
    assert f"The network says: {answer} ({float(p.max()):.1%})" in said, said
    assert not page.js_errors


def test_the_controls_are_on_the_first_screen_of_a_phone_and_a_laptop(browser, app_url) -> None:
    for width, height in ((390, 844), (1280, 720), (1920, 1080)):
        context = browser.new_context(viewport={"width": width, "height": height})
        try:
            pg = context.new_page()
            pg.goto(f"{app_url}/train")
            pg.wait_for_function(SCRIPT_DONE, timeout=60_000)
            for name in ("Start", "Pause", "One step", "Stop", "Reset"):
                box = pg.get_by_role("button", name=name, exact=True).bounding_box()
                assert box is not None, name
                assert box["y"] + box["height"] <= height, (width, name, box)
                assert box["x"] >= 0 and box["x"] + box["width"] <= width, (width, name, box)
            # the settings are folded, one tap away
            expect(pg.get_by_text("Settings", exact=True)).to_be_visible()
            expect(pg.get_by_test_id("stSelectbox").filter(has_text="Batch size")).to_be_hidden()
        finally:
            context.close()


def test_a_closed_tab_stops_its_run_so_the_next_student_starts(browser, tmp_path) -> None:
    """Streamlit keeps a closed tab's session server.disconnectedSessionTTL seconds (2 here, 60
    in the app's config) for it to reconnect; the queue stops the run once it has been gone
    that long and a margin more. A 30-epoch run (minutes) holds the one slot until then."""
    with serve(
        "app.py", tmp_path / "streamlit.log", options={"server.disconnectedSessionTTL": "2"}
    ) as url:
        first = new_page(browser, url)
        first.goto(f"{url}/train?ep=30")
        first.wait_for_function(SCRIPT_DONE, timeout=60_000)
        first.get_by_role("button", name="Start").click()
        wait_for_progress(first, r"^Training")

        second = new_page(browser, url)
        second.goto(f"{url}/{TINY}")
        second.wait_for_function(SCRIPT_DONE, timeout=60_000)
        second.get_by_role("button", name="Start").click()
        waiting = second.get_by_text(re.compile(r"Waiting: 1 in the queue"))
        waiting.wait_for(timeout=30_000)

        first.context.close()  # the tab is closed: its websocket with it
        # Gone for 2 + 15 s (and up to 5 s more until the queue looks): the run is stopped and
        # the waiting run starts; a 30-epoch run would hold the slot for minutes.
        wait_for_progress(second, r"Training|Finished", timeout=60_000)
        wait_for_progress(second, r"Finished\. Step 4 of 4", timeout=90_000)
        assert not second.js_errors
        second.context.close()
