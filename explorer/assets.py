"""Where the app's bundled data lives: one root for samples, the gallery and the weights."""

from __future__ import annotations

import json
from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
WEIGHTS_DIR = ASSETS_DIR / "weights"


def read_card(name: str, weights_dir: Path | None = None) -> dict:
    """The card of the shipped weights ``name`` (``assets/weights/<name>.json``: how they were
    trained, their test figures, their SHA-256), or {} when there is none."""
    path = (weights_dir or WEIGHTS_DIR) / f"{name}.json"
    if path.exists():
        return json.loads(path.read_text())
    return {}
