"""The Feature maps page's stages, read back from the HTML rows it draws them in
(explorer.network_view.stage_figures_html) into the StageFigure each row was made from: what
a student sees of each stage."""

from __future__ import annotations

import html
import re

from streamlit.testing.v1 import AppTest

from explorer.network_view import StageFigure

FIGURE = re.compile(r'<figure data-stage="(\w+)">(.*?)</figure>', re.S)
IMG = re.compile(r'<img class="(cnnx-\w+)" src="([^"]*)" alt="([^"]*)">')
NOTE = re.compile(r'<p class="cnnx-note( cnnx-legend)?">(.*?)</p>', re.S)
TITLE = re.compile(r'<p class="cnnx-title"><strong>(.*?)</strong><br>(.*?)</p>', re.S)


def stage_figures(at: AppTest) -> dict[str, StageFigure]:
    """Every stage drawn on the page, by name, in the page's order."""
    out: dict[str, StageFigure] = {}
    for block in at.markdown:
        for name, body in FIGURE.findall(block.value):
            images = {cls: (src, alt) for cls, src, alt in IMG.findall(body)}
            notes = {bool(legend): html.unescape(text) for legend, text in NOTE.findall(body)}
            title, shape = TITLE.search(body).groups()
            out[name] = StageFigure(
                name=name,
                title=html.unescape(title),
                shape=html.unescape(shape),
                maps_url=html.unescape(images["cnnx-maps"][0]),
                alt=html.unescape(images["cnnx-maps"][1]),
                bar_url=html.unescape(images["cnnx-bar"][0]),
                legend=notes[True],
                explanation=notes[False],
            )
    return out
