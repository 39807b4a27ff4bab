"""Start a Streamlit server for this project, the one way the tests, benches and scripts do it.

    with serve() as url: ...                        # the app on a free local port
    with serve("bench/trivial_app.py") as url: ...  # any other script of the repository
    with running_server(options={"runner.postScriptGC": "false"}) as server:
        server.url, server.pid, server.log_path     # when the caller measures the process

The server runs ``python -m streamlit run SCRIPT`` with this interpreter, from the repository
root (so ``.streamlit/config.toml`` applies), bound to 127.0.0.1 on a free port, headless,
without usage statistics or a file watcher. ``options`` add or override ``--section.name``
flags. The call returns once ``/_stcore/health`` answers; the block's end stops the server.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 60.0
BASE_OPTIONS: dict[str, str] = {
    "server.address": "127.0.0.1",
    "server.headless": "true",
    "browser.gatherUsageStats": "false",
    # Nobody edits the sources while a test or bench runs; watching them costs CPU and threads.
    "server.fileWatcherType": "none",
}


@dataclass(frozen=True)
class Server:
    """A running Streamlit server: its address, process and log file."""

    url: str  # http://127.0.0.1:PORT, no trailing slash
    process: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        """The server's process id (the Python process itself, not a shell)."""
        return self.process.pid

    @property
    def ws_url(self) -> str:
        """The websocket a browser session speaks Streamlit's protocol on."""
        return self.url.replace("http://", "ws://", 1) + "/_stcore/stream"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_command(
    script: str, port: int, options: Mapping[str, str] | None = None, warm: bool = False
) -> list[str]:
    """The command line that serves SCRIPT (relative to the repository root) on PORT; with
    ``warm``, the app as ``make run`` and the image start it (``scripts/serve.py``: torch
    imported and the networks loaded before the port opens)."""
    flags = {**BASE_OPTIONS, "server.port": str(port), **(options or {})}
    if warm and script != "app.py":
        raise ValueError("only app.py has a warm start (scripts/serve.py)")
    command = (
        [sys.executable, "-m", "scripts.serve"]
        if warm
        else [sys.executable, "-m", "streamlit", "run", str(ROOT / script)]
    )
    for name, value in flags.items():
        command += [f"--{name}", value]
    return command


def start_server(
    script: str = "app.py",
    *,
    port: int | None = None,
    log_path: Path | None = None,
    options: Mapping[str, str] | None = None,
    timeout_s: float = START_TIMEOUT_S,
    warm: bool = False,
) -> Server:
    """Start serving SCRIPT and wait until it answers its health check. The caller stops it
    (``stop_server``); prefer the ``running_server``/``serve`` blocks, which always do.

    Raises RuntimeError (naming the log file) when the server exits or stays silent."""
    port = port or free_port()
    log_path = log_path or Path(tempfile.mkdtemp(prefix="streamlit-")) / "streamlit.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            server_command(script, port, options, warm),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            # scripts/serve.py's ready file: one per server, beside its log
            env={**os.environ, "CNNX_READY_FILE": str(log_path.parent / "ready")},
        )
    server = Server(f"http://127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"streamlit exited early (code {process.returncode}); see {log_path}"
            )
        try:
            with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2):
                return server
        except OSError:
            time.sleep(0.2)
    stop_server(server)
    raise RuntimeError(f"streamlit did not answer within {timeout_s:.0f} s; see {log_path}")


def stop_server(server: Server, timeout_s: float = 10.0) -> None:
    """Ask the server to stop (SIGTERM); kill it if it has not within ``timeout_s``."""
    server.process.terminate()
    try:
        server.process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@contextlib.contextmanager
def running_server(
    script: str = "app.py",
    *,
    log_path: Path | None = None,
    options: Mapping[str, str] | None = None,
    warm: bool = False,
) -> Iterator[Server]:
    """A server for SCRIPT for as long as the block runs; yields the ``Server``."""
    server = start_server(script, log_path=log_path, options=options, warm=warm)
    try:
        yield server
    finally:
        stop_server(server)


@contextlib.contextmanager
def serve(
    script: str = "app.py",
    log_path: Path | None = None,
    *,
    options: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """A server for SCRIPT for as long as the block runs; yields its URL."""
    with running_server(script, log_path=log_path, options=options) as server:
        yield server.url
