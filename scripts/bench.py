"""Benchmarks for `wbtool new` and `wbtool check` (figures go to docs/benchmarks.md).

Machines here are noisy, so each figure is reported next to a baseline measured in the same run
(openpyxl loading the same file, Python start-up) and the ratios are what to compare over time.
Run: python scripts/bench.py [--repeat N]
"""
from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import openpyxl  # noqa: E402

from workbook_tool.checker import check_file  # noqa: E402
from workbook_tool.project import load_project_file, parse_project, strip_fill  # noqa: E402
from workbook_tool.template import load_template  # noqa: E402
from workbook_tool.writer import write_workbook  # noqa: E402

SAMPLE = ROOT / "samples" / "party-building-2024-filled.xlsx"


def timeit(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=15)
    n = ap.parse_args().repeat
    out = Path(tempfile.mkdtemp()) / "b.xlsx"
    se, de = load_template("self-eval"), load_template("dept-eval")
    seed = strip_fill(parse_project(load_project_file(ROOT / "samples" / "party-building-2024.yaml"), de))
    data = SAMPLE.read_bytes()
    rows = [
        ("baseline: openpyxl load of the sample (formulas)", timeit(lambda: openpyxl.load_workbook(io.BytesIO(data)), n)),
        ("new: blank self-eval", timeit(lambda: write_workbook(out, se, force=True), n)),
        ("new: blank dept-eval", timeit(lambda: write_workbook(out, de, force=True), n)),
        ("new: seed project prefilled", timeit(lambda: write_workbook(out, de, seed, force=True), n)),
        ("check: sample return, in process", timeit(lambda: check_file(SAMPLE), n)),
        ("baseline: python -c pass (interpreter start-up)",
         timeit(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), max(3, n // 3))),
        ("check: `python -m workbook_tool check sample` incl. start-up",
         timeit(lambda: subprocess.run([sys.executable, "-m", "workbook_tool", "check", str(SAMPLE)], check=True,
                                       capture_output=True, cwd=ROOT), max(3, n // 3))),
    ]
    base = rows[0][1]
    print(f"{'what':<62} {'median':>9} {'× openpyxl load':>16}")
    for name, t in rows:
        print(f"{name:<62} {t * 1000:>7.1f}ms {t / base:>15.1f}×")
    mods = subprocess.run([sys.executable, "-c", "import sys, workbook_tool.checker, workbook_tool.report; "
                           "print('pandas' in sys.modules)"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    print(f"pandas imported by check: {mods}")


if __name__ == "__main__":
    main()
