"""The container's entry point: warm up, then serve the app from this same process.

    python -m scripts.serve [--server.port 8501 ...]   # any `streamlit run` flags

1. Deletes the ready file, then imports ``explorer`` (and so torch) and loads every built-in
   network the way the app does (``explorer.model.builtin_weights`` +
   ``explorer.weights_file.load_choice``), with one forward pass each: the second or so of
   torch's import and first-call set-up that the first student would otherwise wait for.
   Then it freezes every object alive (``gc.freeze``): a full garbage collection no longer
   walks torch's and Streamlit's 300,000 objects with the GIL held.
2. Writes the ready file (``READY_FILE``, or ``$CNNX_READY_FILE``): ``scripts/ready.py``, the
   readiness probe, answers "ready" only when it exists and ``/_stcore/health`` answers, so a
   replica gets students only once it is warm, not as soon as its port opens.
3. Runs ``streamlit run app.py`` in this process (``streamlit.web.cli``), so torch and the
   app's modules are already imported when the first session's script runs.

``scripts/drain.py`` (Kubernetes' preStop hook) deletes the ready file again to take the
replica out of rotation before it stops. It is the image's command and ``make run``'s; the
load benches start the app with it too (``scripts/server.py``'s ``warm``), and the tests with
``streamlit run``. Like app.py, it caps torch at one thread (``OMP_NUM_THREADS``) before torch
is imported: every session is a thread of this one process.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READY_FILE = Path(os.environ.get("CNNX_READY_FILE", "/tmp/cnn-explorer.ready"))


def warm_up() -> list[str]:
    """Import torch and the app's computation, load each built-in network and run it once;
    the networks' keys, in order."""
    import torch

    from explorer.model import builtin_weights
    from explorer.weights_file import load_choice

    keys = []
    with torch.inference_mode():
        for choice in builtin_weights():
            model = load_choice(choice)
            model(torch.zeros(1, 3, 32, 32))
            keys.append(choice.key)
    return keys


def freeze_start_up_objects() -> None:
    """Move every object alive after the warm-up (torch, Streamlit, the networks: about 300,000
    of them) out of the garbage collector's reach. They live as long as the server, and each
    automatic full collection walked them all: 130–200 ms with the GIL held, a stall for every
    student at once (three in a 30-student class). Objects made later are collected as before.
    """
    import gc

    import streamlit.web.cli  # noqa: F401  (imported now, so its objects are frozen too)

    gc.collect()
    gc.freeze()


def main(argv: Sequence[str] | None = None) -> int:
    flags = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # app.py's cap, set before torch is imported
    READY_FILE.unlink(missing_ok=True)  # a restarted container's file says nothing of this one
    started = time.perf_counter()
    keys = warm_up()
    seconds = time.perf_counter() - started
    freeze_start_up_objects()
    READY_FILE.write_text(f"warm: {', '.join(keys)} in {seconds:.1f} s\n")
    print(f"warm in {seconds:.1f} s: {', '.join(keys)} loaded; starting Streamlit", flush=True)

    from streamlit.web import cli

    os.chdir(ROOT)  # .streamlit/config.toml is read from the working directory
    return cli.main(args=["run", str(ROOT / "app.py"), *flags], prog_name="streamlit")


if __name__ == "__main__":
    sys.exit(main())
