"""The shift lab's bench runs end to end on one step and prints its table whole: every row a
median, a 90th percentile and a ratio to the trivial rerun, and the verdict on the 300 ms goal.
Its figures are never asserted (tests do not time); only the table's shape, and that the bench
leaves the process as it found it (torch's threads, AppTest's navigation, the summary's size)."""

from __future__ import annotations

import re

import pytest
import torch
from streamlit.runtime.pages_manager import PagesManager

from bench import bench_shift_lab
from explorer.ui import shift_lab

NUMBER = r"\d+\.\d"


def test_one_step_prints_the_whole_table(capsys: pytest.CaptureFixture[str]) -> None:
    threads, init = torch.get_num_threads(), PagesManager.__init__
    sizes = shift_lab.HELD_PER_CLASS, shift_lab.PAIRS_PER_IMAGE

    rows = bench_shift_lab.run(steps=1)

    out = capsys.readouterr().out
    table = [line for line in out.splitlines() if line.startswith("|")]
    assert table[0] == "| what | median ms | p90 ms | × trivial rerun | ≤ 300 ms goal |"
    assert table[1] == "|---|---:|---:|---:|---|"
    assert len(table) == 2 + len(rows) == 2 + 8
    for line, row in zip(table[2:], rows, strict=True):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert len(cells) == 5 and cells[0] == row["what"].strip()
        assert re.fullmatch(NUMBER, cells[1]) and re.fullmatch(NUMBER, cells[2])
        assert re.fullmatch(NUMBER + "×", cells[3])
        assert row["n"] == 1
    assert table[2].startswith("| baseline: trivial page rerun") and table[2].endswith(
        "| 1.0× | — |"
    )
    step = table[3].split("|")
    assert "slider step to a new shift" in step[1] and step[5].strip() in ("met", "MISSED")
    verdict = r"median \d+ ms of server time over 1 step \(goal ≤ 300 ms\): (met|MISSED)\."
    assert re.search(verdict, out)
    assert "1 CPU thread(s) for torch" in out  # as app.py runs torch
    # Left as found.
    assert torch.get_num_threads() == threads and PagesManager.__init__ is init
    assert sizes == (shift_lab.HELD_PER_CLASS, shift_lab.PAIRS_PER_IMAGE)
