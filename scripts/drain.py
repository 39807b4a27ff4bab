"""Kubernetes' preStop hook: take this replica out of rotation, then let its students finish.

    python -m scripts.drain          # returns when the replica may stop

1. Deletes the ready file, so the readiness probe (``scripts/ready.py``) fails: Kubernetes takes
   the pod out of the Service's endpoints and ingress-nginx sends it no new session (a browser
   whose affinity cookie names this pod is given another pod).
2. Waits at least ``CNNX_DRAIN_MIN_SECONDS`` (default 15: the probe's period times its failure
   threshold, plus the time the ingress takes to see the change), then until Streamlit's
   ``/_stcore/metrics`` counts no active session, at most ``CNNX_DRAIN_SECONDS`` (default 270,
   inside the Deployment's terminationGracePeriodSeconds of 300).

Then the kubelet sends SIGTERM. A student still connected reconnects to another replica and
carries on from the page's link; what lived only in this process (an upload, a drawing) is lost,
and the README says so. Only the standard library is imported.
"""

from __future__ import annotations

import os
import re
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence

from scripts.ready import READY_FILE, local_url

ACTIVE = re.compile(r"^active_sessions(?:\{[^}]*\})? (\d+(?:\.\d+)?)$", re.MULTILINE)


def active_sessions(timeout_s: float = 3.0) -> int | None:
    """The server's open sessions (Streamlit's ``active_sessions`` metric); None when unknown."""
    try:
        url = local_url("_stcore/metrics?families=active_sessions")
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            text = response.read().decode()
    except OSError:
        return None
    found = ACTIVE.findall(text)
    return int(sum(float(v) for v in found)) if found else None


def drain(
    min_s: float,
    max_s: float,
    sessions: Callable[[], int | None] = active_sessions,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    report: Callable[[str], None] = print,
) -> int | None:
    """Leave rotation and wait as described above; the sessions still open at the end."""
    READY_FILE.unlink(missing_ok=True)
    start = clock()
    while True:
        left = sessions()
        waited = clock() - start
        if waited >= max_s or (waited >= min_s and not left):
            break
        sleep(1.0)
    report(f"drained after {clock() - start:.0f} s; sessions still open: {left}")
    return left


def main(argv: Sequence[str] | None = None) -> int:
    min_s = float(os.environ.get("CNNX_DRAIN_MIN_SECONDS", "15"))
    max_s = float(os.environ.get("CNNX_DRAIN_SECONDS", "270"))
    drain(min_s, max(min_s, max_s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
