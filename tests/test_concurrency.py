"""Sessions never touch each other: Streamlit runs every browser session as a thread of one
process, and the app hands all of them the *same* model object (``st.cache_resource``).

The first version captured the stages with forward hooks registered on that shared model, so
two students' forward passes fired each other's hooks: usually ``RuntimeError: expected 3
pooling calls``, and now and then (3 in 14,000 captures) another image's stages, silently.
Run against that version, the first test below fails within its first few hundred captures.
"""

from __future__ import annotations

import io
import threading

import numpy as np
import torch

from explorer.architecture import layer_table
from explorer.features import capture_activations
from explorer.model import SimpleCNN, WeightsError, build_model
from explorer.weights_file import load_state_dict_bytes

THREADS = 8
CAPTURES_PER_THREAD = 50


def _images(n: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(11)
    return [torch.randn(1, 3, 32, 32, generator=g) for _ in range(n)]


def _run_sessions(session, threads: int = THREADS) -> list[str]:
    """Start ``threads`` threads at the same instant (a barrier), each running
    ``session(thread_index, failures)``; return what they reported."""
    barrier = threading.Barrier(threads)
    failures: list[str] = []

    def run(t: int) -> None:
        barrier.wait()
        try:
            session(t, failures)
        except Exception as exc:  # noqa: BLE001 — reported, not lost in the thread
            failures.append(f"thread {t}: {exc!r}")

    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    assert not any(w.is_alive() for w in workers), "a session never finished"
    return failures


def test_eight_sessions_sharing_one_model_each_get_their_own_images_stages() -> None:
    model = build_model(seed=5)
    images = _images(16)
    alone = [capture_activations(model, x) for x in images]  # the same captures, one at a time

    def session(t: int, failures: list[str]) -> None:
        for k in range(CAPTURES_PER_THREAD):
            i = (7 * t + 3 * k) % len(images)  # each thread walks the images in its own order
            try:
                acts = capture_activations(model, images[i])
            except Exception as exc:  # noqa: BLE001 — the old hooks raised here
                failures.append(f"thread {t}, capture {k}: {exc!r}")
                continue
            wrong = [n for n, a in alone[i].stages.items() if not np.array_equal(acts.stages[n], a)]
            if wrong:
                failures.append(f"thread {t}, capture {k}: image {i}'s {wrong} differ")

    failures = _run_sessions(session)
    total = THREADS * CAPTURES_PER_THREAD
    assert not failures, f"{len(failures)} of {total} captures went wrong: {failures[:3]}"
    assert not model.training


def test_the_layer_table_built_while_others_capture_disturbs_no_capture() -> None:
    """The network page runs its table through the shared model while other sessions capture:
    the table must neither switch the model's mode (a capture refuses a model in training mode)
    nor leave anything on it that a capture would see."""
    model = build_model(seed=6)
    x = _images(1)[0]
    expected = capture_activations(model, x).logits

    def session(t: int, failures: list[str]) -> None:
        for _ in range(25):
            if t % 2:
                layer_table(model)
            elif not np.array_equal(capture_activations(model, x).logits, expected):
                failures.append(f"thread {t}: logits differ")

    assert _run_sessions(session, threads=4) == []


def test_uploads_checked_at_once_each_get_their_own_answer() -> None:
    """Checking a file runs torch.load twice (the index on the meta device, then the numbers);
    torch keeps the device of a load per thread, so one student's check must never hand
    another meta tensors, or another file's refusal."""
    good = io.BytesIO()
    torch.save(SimpleCNN().state_dict(), good)
    files = [good.getvalue(), b"\x80\x02not weights", good.getvalue()[:-50]]
    expected, _ = load_state_dict_bytes(files[0])

    def session(t: int, failures: list[str]) -> None:
        for k in range(4):
            data = files[(t + k) % len(files)]
            try:
                state, _ = load_state_dict_bytes(data)
            except WeightsError:
                if data is files[0]:
                    failures.append(f"thread {t}: the good file was refused")
                continue
            if data is not files[0]:
                failures.append(f"thread {t}: a bad file was accepted")
            elif not all(
                torch.equal(v, expected[name]) and v.device.type == "cpu"
                for name, v in state.items()
            ):
                failures.append(f"thread {t}: the good file loaded different tensors")

    assert _run_sessions(session, threads=6) == []
