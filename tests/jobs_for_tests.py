"""Tiny job functions for tests/test_jobs.py, importable by name in a spawned worker
("tests.jobs_for_tests:count"). Each emits what the test needs to see from outside."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from explorer.jobs import Control

Emit = Callable[[object], None]


def count(control: Control, emit: Emit, n: int = 3) -> dict[str, int]:
    """Emit 0, 1, …, n-1, one per checkpoint; return the total."""
    for i in range(n):
        control.checkpoint()
        emit(i)
    return {"total": n}


def tick(control: Control, emit: Emit, delay: float = 0.01) -> None:
    """Forever: checkpoint, then emit (number of checkpoints passed, stepping?)."""
    passed = 0
    while True:
        control.checkpoint()
        passed += 1
        emit((passed, control.stepping))
        time.sleep(delay)


def pid_then_tick(control: Control, emit: Emit) -> None:
    """Emit the worker's process id, then tick forever."""
    emit(os.getpid())
    tick(control, emit)


def fail(control: Control, emit: Emit, message: str) -> None:
    """Emit "before", then raise ValueError(message)."""
    emit("before")
    control.checkpoint()
    raise ValueError(message)


def never_checkpoint(control: Control, emit: Emit) -> None:
    """Emit "started", then work for a minute without ever calling checkpoint()."""
    emit("started")
    time.sleep(60)


def torch_threads(control: Control, emit: Emit) -> int:
    """Import torch lazily (as real jobs do) and return its intra-op thread count."""
    import torch

    return torch.get_num_threads()


def unpicklable_event(control: Control, emit: Emit) -> None:
    """Emit something pickle refuses (a lambda)."""
    emit(lambda: None)


# Where this module was imported, for the tests of warm workers: a worker that imports it
# (as a preload, or for its first job) leaves a file named after its process id.
if os.environ.get("CNNX_TEST_LOADED_DIR"):
    with open(os.path.join(os.environ["CNNX_TEST_LOADED_DIR"], str(os.getpid())), "w"):
        pass


def where(control: Control, emit: Emit) -> tuple[int, bool]:
    """Pass one checkpoint, then return (the worker's process id, whether it is stepping)."""
    control.checkpoint()
    return os.getpid(), control.stepping
