"""The readiness probe: a replica is ready when it is warm and serving.

    python -m scripts.ready          # exit 0 when ready; 1, with the reason, when not

Warm: the ready file exists, which ``scripts/serve.py`` writes after torch is imported and the
built-in networks are loaded (``scripts/drain.py`` deletes it when the replica is being taken out
of rotation). Serving: ``/_stcore/health`` answers 200. Only the standard library is imported
(a probe every few seconds must cost milliseconds, not torch's import).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

READY_FILE = Path(os.environ.get("CNNX_READY_FILE", "/tmp/cnn-explorer.ready"))


def local_url(path: str) -> str:
    """``path`` on this replica's own server (port and base path as Streamlit reads them)."""
    port = os.environ.get("STREAMLIT_SERVER_PORT", "8501")
    base = os.environ.get("STREAMLIT_SERVER_BASE_URL_PATH", "").strip("/")
    return f"http://127.0.0.1:{port}/{base + '/' if base else ''}{path.lstrip('/')}"


def not_ready_reason(ready_file: Path = READY_FILE, timeout_s: float = 3.0) -> str | None:
    """Why this replica should get no students now; None when it is ready."""
    if not ready_file.exists():
        return f"not warm: {ready_file} is missing (warming up, or draining)"
    try:
        with urllib.request.urlopen(local_url("_stcore/health"), timeout=timeout_s) as response:
            if response.status != 200:
                return f"/_stcore/health answered {response.status}"
    except (OSError, urllib.error.URLError) as exc:
        return f"/_stcore/health did not answer: {exc}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    reason = not_ready_reason()
    if reason:
        print(reason, file=sys.stderr)
        return 1
    print("ready")
    return 0


if __name__ == "__main__":
    sys.exit(main())
