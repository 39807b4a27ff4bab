"""The shipped photo network's measured shift summary and the home page's sentence about it.

A light module (no torch, no plotly): the home page quotes the summary on every visit, and
only explorer/shift_lab.py, which measures it (``summarise``, run by scripts/measure_shifts.py),
needs the network."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from explorer.assets import WEIGHTS_DIR, read_card

# How the summary's sentence is worded: at least this consistency (and at most the flip rate)
# and the answer counts as invariant for this network; below the lower bound it is not even
# approximately so.
INVARIANT_CONSISTENCY = 0.99
INVARIANT_FLIP_RATE = 0.01
APPROXIMATE_CONSISTENCY = 0.8


@dataclass(frozen=True)
class ShiftSummary:
    """How shift-invariant the network's answer is, measured over ``images`` images.

    ``flips`` of ``flip_pairs``: neighbouring shifts — (d, 0) and (d + 1, 0), and (0, d) and
    (0, d + 1), for every d from −limit to limit − 1 — whose top-1 classes differ.
    ``agreements`` of ``consistency_pairs``: pairs of random shifts (dx, dy uniform whole numbers
    in −limit…limit, drawn with ``numpy.random.default_rng(seed)``) whose top-1 classes agree:
    Zhang's consistency."""

    dataset: str
    gallery_images: int
    held_out_images: int
    per_class: int  # held-out images of each class
    limit: int
    flip_pairs: int
    flips: int
    consistency_pairs: int
    agreements: int
    pairs_per_image: int
    seed: int
    forward_passes: int
    seconds: float

    @property
    def images(self) -> int:
        return self.gallery_images + self.held_out_images

    @property
    def flip_rate(self) -> float:
        return self.flips / self.flip_pairs if self.flip_pairs else 0.0

    @property
    def consistency(self) -> float:
        return self.agreements / self.consistency_pairs if self.consistency_pairs else 1.0


# ============================================================================================
# The shipped network's summary, measured once by scripts/measure_shifts.py for the home page


def shipped_summary_path(dataset: str) -> Path:
    return WEIGHTS_DIR / f"simplecnn-{dataset}.shifts.json"


def save_shipped_summary(summary: ShiftSummary, weights_sha256: str) -> Path:
    """Write ``summary`` of the shipped weights (named by their SHA-256) beside them."""
    path = shipped_summary_path(summary.dataset)
    record = {**dataclasses.asdict(summary), "weights_sha256": weights_sha256}
    path.write_text(json.dumps(record, indent=1) + "\n")
    return path


def shipped_summary(dataset: str) -> ShiftSummary | None:
    """The summary measured on the shipped ``dataset`` weights, or None when it is missing or
    was measured on other weights than the ones shipped now (their card's SHA-256)."""
    path, card = shipped_summary_path(dataset), read_card(f"simplecnn-{dataset}", WEIGHTS_DIR)
    if not path.exists() or not card:
        return None
    record = json.loads(path.read_text())
    if record.pop("weights_sha256", None) != card.get("weights_sha256"):
        return None
    return ShiftSummary(**record)


def home_sentence(summary: ShiftSummary) -> str:
    """The home page's translation claim, worded by the measurement (Markdown)."""
    return (
        "**Translation: only approximately invariant.** A convolution finds an edge wherever "
        "it is — shift the image and its maps shift with it — but each pooling breaks that "
        "shift apart. Measured by the app on the shipped photo network, a one-pixel shift "
        f"changes its answer in **{summary.flip_rate:.1%}** of cases, and two random shifts of "
        f"the same image get the same answer **{summary.consistency:.1%}** of the time."
        if summary.consistency < INVARIANT_CONSISTENCY or summary.flip_rate > INVARIANT_FLIP_RATE
        else "**Translation invariance.** A convolution finds an edge wherever it is, and on "
        "the shipped photo network a one-pixel shift changes the answer in only "
        f"**{summary.flip_rate:.1%}** of cases (measured by the app)."
    )
