"""Shared test set-up. The repository root is on the import path through pytest's
``pythonpath`` setting (pyproject.toml), so ``explorer``, ``pages``, ``scripts`` and ``bench``
import as packages. Tests run from the root, where Streamlit looks for ``.streamlit/config.toml``
(AppTest included), whichever folder pytest was started from."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.chdir(ROOT)
