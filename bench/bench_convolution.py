"""How fast is ``explorer.convolution.conv2d`` next to PyTorch on the CPU?

Run ``python -m bench.bench_convolution``. Prints one row per case: the median of
``REPEATS`` timed runs after one warm-up, for our NumPy fast path and for
``torch.nn.functional.conv2d`` on float64 tensors (the fair comparison: ours computes in
float64) and on float32 tensors (what a network would use). Both use "same" zero padding
(k // 2). ``torch.set_num_threads`` is left at its default. The goal is ours ≤ 1.5 × torch
float64. Figures, never asserted in tests.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from unittest import mock

import numpy as np

from explorer import convolution
from explorer.convolution import ConvSettings, conv2d, window_trace

REPEATS = 9
GOAL_RATIO = 1.5


def median_ms(function: Callable[[], object], repeats: int = REPEATS) -> float:
    """Median wall time of ``function()`` in milliseconds, after one untimed warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def _conv_case(name: str, image: np.ndarray, kernel: np.ndarray) -> dict:
    import torch
    import torch.nn.functional as F

    padding = kernel.shape[-1] // 2
    conv = ConvSettings(padding=padding)
    x64 = torch.from_numpy(image if image.ndim == 3 else image[None])[None]  # 1×C×H×W
    w64 = torch.from_numpy(kernel if kernel.ndim == 3 else kernel[None])[None]  # 1×C×kh×kw
    x32, w32 = x64.float(), w64.float()
    ours = median_ms(lambda: conv2d(image, kernel, conv))
    torch64 = median_ms(lambda: F.conv2d(x64, w64, padding=padding))
    torch32 = median_ms(lambda: F.conv2d(x32, w32, padding=padding))
    # The same fast path in one pass over the whole image (no row blocks), to show what the
    # cache blocking in convolution._accumulate buys.
    with mock.patch.object(convolution, "_BLOCK_CELLS", image.size):
        unblocked = median_ms(lambda: conv2d(image, kernel, conv))
    return {
        "case": name,
        "numpy_ms": ours,
        "numpy_unblocked_ms": unblocked,
        "torch_f64_ms": torch64,
        "torch_f32_ms": torch32,
        "ratio_vs_f64": ours / torch64,
        "ratio_vs_f32": ours / torch32,
        "meets_goal": ours / torch64 <= GOAL_RATIO,
        "torch_threads": torch.get_num_threads(),
    }


def measure() -> list[dict]:
    """Time every case; one dict per row (times in milliseconds)."""
    rng = np.random.default_rng(0)
    gray = rng.random((1024, 1024))
    rgb = rng.random((3, 1024, 1024))
    rows = [_conv_case(f"1024×1024, {k}×{k}", gray, rng.normal(size=(k, k))) for k in (3, 5, 7)]
    rows.append(_conv_case("3×1024×1024 RGB sum, 3×3×3", rgb, rng.normal(size=(3, 3, 3))))
    small, kernel = rng.random((64, 64)), rng.normal(size=(3, 3))
    trace_ms = median_ms(lambda: window_trace(small, kernel, ConvSettings(padding=1)))
    rows.append({"case": "window_trace 64×64, 3×3, padding 1", "numpy_ms": trace_ms})
    return rows


def print_table(rows: list[dict]) -> None:
    threads = rows[0]["torch_threads"]
    print(f"conv2d (NumPy, float64) vs torch.nn.functional.conv2d on the CPU, {threads} torch")
    print(f"thread(s) (default), median of {REPEATS} runs after a warm-up, 'same' zero padding.\n")
    header = f"{'case':<36}{'ours':>9}{'unblocked':>11}{'torch f64':>11}{'torch f32':>11}"
    print(header + f"{'ours/f64':>10}{'ours/f32':>10}  ≤{GOAL_RATIO}× f64?")
    for row in rows:
        if "torch_f64_ms" not in row:
            continue
        print(
            f"{row['case']:<36}{row['numpy_ms']:>7.1f}ms{row['numpy_unblocked_ms']:>9.1f}ms"
            f"{row['torch_f64_ms']:>9.1f}ms{row['torch_f32_ms']:>9.1f}ms"
            f"{row['ratio_vs_f64']:>9.2f}×{row['ratio_vs_f32']:>9.2f}×  "
            f"{'yes' if row['meets_goal'] else 'NO'}"
        )
    trace = rows[-1]
    print(f"\n{trace['case']}: {trace['numpy_ms']:.2f} ms to build")


def run() -> list[dict]:
    """Measure, print the table, and return its rows (for bench.run_all)."""
    rows = measure()
    print_table(rows)
    return rows


if __name__ == "__main__":
    run()
