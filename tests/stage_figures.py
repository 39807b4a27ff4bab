"""The Feature maps page's stages, read from the HTML rows it draws them in
(explorer.network_view.stage_figures_html): what a student sees of each stage."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from streamlit.testing.v1 import AppTest

FIGURE = re.compile(r'<figure data-stage="(\w+)">(.*?)</figure>', re.S)
IMG = re.compile(r'<img class="(cnnx-\w+)" src="([^"]*)" alt="([^"]*)">')
NOTE = re.compile(r'<p class="cnnx-note( cnnx-legend)?">(.*?)</p>', re.S)
TITLE = re.compile(r'<p class="cnnx-title"><strong>(.*?)</strong><br>(.*?)</p>', re.S)


@dataclass(frozen=True)
class Shown:
    name: str
    title: str
    shape: str
    maps_url: str
    alt: str
    bar_url: str
    legend: str
    explanation: str


def stage_figures(at: AppTest) -> dict[str, Shown]:
    """Every stage drawn on the page, by name, in the page's order."""
    out: dict[str, Shown] = {}
    for block in at.markdown:
        for name, body in FIGURE.findall(block.value):
            images = {cls: (src, alt) for cls, src, alt in IMG.findall(body)}
            notes = {bool(legend): html.unescape(text) for legend, text in NOTE.findall(body)}
            title, shape = TITLE.search(body).groups()
            out[name] = Shown(
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
