"""Measure the shift lab's summary on the shipped weights and write it beside them
(assets/weights/simplecnn-<dataset>.shifts.json), for the home page's translation claim:

    python -m scripts.measure_shifts            # cifar10 and mnist, a few seconds each

The file names the weights it was measured on (their SHA-256); new weights make the home page
fall back to a sentence without the figure until this is run again. tests/test_shift_lab.py
measures it again and compares."""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main(datasets: list[str]) -> None:
    from explorer.model import WEIGHTS_DIR, builtin_weights
    from explorer.shift_lab import save_shipped_summary, summarise
    from explorer.weights_file import load_choice

    choices = {c.key: c for c in builtin_weights()}
    for dataset in datasets:
        name = f"simplecnn-{dataset}"
        card = json.loads((WEIGHTS_DIR / f"{name}.json").read_text())
        choice = choices[name]
        summary = summarise(load_choice(choice), choice.preprocessing, dataset)
        path = save_shipped_summary(summary, card["weights_sha256"])
        print(
            f"{dataset}: flip rate {summary.flip_rate:.2%}, consistency {summary.consistency:.2%}"
            f" over {summary.images} images in {summary.seconds:.1f} s -> {path}"
        )


if __name__ == "__main__":
    main(sys.argv[1:] or ["cifar10", "mnist"])
