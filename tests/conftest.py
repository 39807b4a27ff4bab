"""Shared test set-up: tests run from the repository root so `explorer` and `pages` import."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)
