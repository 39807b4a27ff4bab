#!/usr/bin/env bash
# The image's install steps, in one script: the Dockerfile runs it, and so can a test or a person
# in a clean virtual environment when no container builder is at hand.
#
#   bash scripts/install-runtime.sh VENV [REQUIREMENTS]
#
# Creates the virtual environment VENV (if missing) and installs the runtime requirements
# (requirements.txt: only what the app needs, no test tools) with pip, pinned exactly.
# torch comes first, alone and without its dependencies, from TORCH_INDEX_URL:
#   - https://download.pytorch.org/whl/cpu (the Dockerfile's default): PyTorch's CPU wheel,
#     about 200 MB. PyPI's Linux torch wheel is the CUDA build, whose NVIDIA libraries add
#     several GB that a CPU-only server never uses;
#   - https://pypi.org/simple: that CUDA build, for the image's CUDA variant;
#   - empty: wherever pip is configured to look (on our development machines a local CPU wheel).
# Then requirements.txt installs the rest, and torch's own dependencies, from pip's usual index;
# the torch already installed satisfies its pin (torch==2.13.0 accepts 2.13.0+cpu).
set -euo pipefail
VENV="${1:?usage: install-runtime.sh VENV [REQUIREMENTS]}"
REQUIREMENTS="${2:-requirements.txt}"
PYTHON="${PYTHON:-python3}"
TORCH_INDEX_URL="${TORCH_INDEX_URL-https://download.pytorch.org/whl/cpu}"

TORCH_PIN="$(grep -E '^torch==' "$REQUIREMENTS")"
if [ -z "$TORCH_PIN" ]; then
  echo "no torch==VERSION line in $REQUIREMENTS" >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip install --no-cache-dir --disable-pip-version-check --quiet)
if [ -n "$TORCH_INDEX_URL" ]; then
  "${PIP[@]}" --no-deps --index-url "$TORCH_INDEX_URL" "$TORCH_PIN"
else
  "${PIP[@]}" --no-deps "$TORCH_PIN"
fi
"${PIP[@]}" -r "$REQUIREMENTS"
# Fail the build here, not at the first student: every runtime import resolves and torch is the
# pinned release.
"$VENV/bin/python" - "$TORCH_PIN" <<'PY'
import importlib.util
import sys

import streamlit
import torch

# The drawing canvas registers itself with a running Streamlit server, so it is only found here.
for module in ("captum", "matplotlib", "numpy", "PIL", "plotly", "streamlit_drawable_canvas"):
    assert importlib.util.find_spec(module) is not None, f"{module} is not installed"
wanted = sys.argv[1].split("==")[1]
assert torch.__version__.split("+")[0] == wanted, (torch.__version__, wanted)
print(
    f"runtime ready: torch {torch.__version__} (CUDA {torch.version.cuda or 'none'}),"
    f" streamlit {streamlit.__version__}"
)
PY
