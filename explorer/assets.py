"""Where the app's bundled data lives: one root for samples, the gallery and the weights."""

from __future__ import annotations

from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
