"""Print every performance figure of the project in one run (`make bench`).

Each bench module measures one goal and returns rows of figures; nothing here asserts: the
figures are for people (and the README), never for the test suite.
"""

from __future__ import annotations

import importlib
import json
import platform
import sys
import time
from pathlib import Path

MODULES = [
    "bench.bench_convolution",
    "bench.bench_player",
    "bench.bench_rerun",
    "bench.bench_network",
    "bench.bench_load",
    "bench.bench_attribution",
    "bench.bench_shift_lab",
]


def main() -> int:
    print(f"CNN Explorer benchmarks — {platform.platform()}, Python {platform.python_version()}")
    results: dict[str, list[dict]] = {}
    for name in MODULES:
        print(f"\n=== {name} ===", flush=True)
        t0 = time.perf_counter()
        module = importlib.import_module(name)
        results[name] = module.run()
        print(f"({time.perf_counter() - t0:.0f} s)")
    out = Path("out")
    out.mkdir(exist_ok=True)
    (out / "bench.json").write_text(json.dumps(results, indent=1, default=str))
    print("\nAll figures written to out/bench.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
