"""What the network pages say: the verdict (never comparing a class index with a label name),
the channels as the network sees them, the legend's words, and the bar table."""

from __future__ import annotations

import re

import numpy as np
import torch

from explorer import render
from explorer.model import CIFAR10_PREPROCESSING
from explorer.network_view import channel_views, legend_text, verdict

CLASSES = ("cat", "dog", "ship")


def test_verdict_right_wrong_and_unknown() -> None:
    p = np.array([0.2, 0.7, 0.1])
    assert verdict(p, CLASSES, "dog").correct is True
    assert verdict(p, CLASSES, "cat").correct is False
    assert "wrong, the true label is **cat**" in verdict(p, CLASSES, "cat").sentence()
    assert verdict(p, CLASSES, None).correct is None
    other_head = tuple(f"class {i}" for i in range(3))
    said = verdict(p, other_head, "dog")
    assert said.correct is None and said.answer == "class 1"
    assert "cannot be told" in said.sentence()
    assert said.probability == 0.7


def test_channel_views_are_the_normalised_input() -> None:
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    views = channel_views(image, CIFAR10_PREPROCESSING)
    pre = CIFAR10_PREPROCESSING
    for i, view in enumerate(views):
        x = (torch.from_numpy(image[:, :, i]).float() / 255 - pre.mean[i]) / pre.std[i]
        assert view.name == "RGB"[i]
        np.testing.assert_array_equal(view.pixels, image[:, :, i])
        assert abs(view.low - float(x.min())) < 1e-6 and abs(view.high - float(x.max())) < 1e-6


def test_legend_text() -> None:
    assert (
        legend_text("signed", -2.5, 2.5, False) == "blue −2.5 · white 0 · red 2.5"
    )  # a true minus
    assert legend_text("nonnegative", 0, 3.25, False) == "dark 0 · yellow 3.25"
    assert legend_text("signed", -1, 1, True).startswith("Each map:")


def test_bars_html_writes_each_value_and_scales_the_bars() -> None:
    html = render.bars_html([("ship", 0.5), ("<cat>", 0.25), ("dog", -0.5)], "ship", ".1%")
    rows = re.findall(r"<tr>.*?</tr>", html)
    assert len(rows) == 3
    assert "&lt;cat&gt;" in rows[1] and "25.0%" in rows[1]  # names are escaped
    widths = [float(w) for w in re.findall(r"width:([\d.]+)%;top", html)]
    assert widths == [50.0, 25.0, 50.0]  # signed values: half the width each way
    assert "left:0.00%" in rows[2] and "font-weight:600" in rows[0]
    accent = [("#c0392b" in row, "font-weight:600" in row) for row in rows]
    assert accent == [(True, True), (False, False), (False, False)]  # only the highlighted


def test_a_row_of_stages_is_one_block_with_every_word_escaped() -> None:
    from explorer.network_view import STAGE_FIGURE_CSS, StageFigure, stage_figures_html
    from tests.stage_figures import FIGURE

    hostile = StageFigure(
        name="conv1",
        title="conv1 <b>& co</b>",
        shape="32×32×32",
        maps_url="/media/a.png",
        alt='All "32" maps',
        bar_url="/media/b.png",
        legend="blue −1 · white 0 · red 1",
        explanation="<script>alert(1)</script>",
    )
    block = stage_figures_html([hostile, hostile], css=True)
    assert block.startswith(STAGE_FIGURE_CSS) and "<script>" not in block and "<b>" not in block
    assert "&lt;script&gt;" in block and 'alt="All &quot;32&quot; maps"' in block
    assert len(FIGURE.findall(block)) == 2
    assert not stage_figures_html([hostile]).startswith("<style>")  # the CSS once a page
