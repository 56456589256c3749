"""Bounded memory (issue #9 item 4): the largest returns within intake's limits stay under 300 MB.

Each file is checked in a fresh interpreter that reports its own peak RSS. With openpyxl the extra
sheet took ~900 MB and the nested string ~700 MB; the streaming reader never parses a sheet the
layout does not name, stops keeping cells past the rows the layout can reach, and refuses XML
nested deeper than it can be legitimately (F119, one line).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import hostile  # noqa: E402

LIMIT_MB = 300
# VmHWM: the child's own high-water mark (getrusage's maxrss would include pytest's, inherited on exec)
PROBE = ("import sys; from workbook_tool.checker import check_file; r = check_file(sys.argv[1]); "
         "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]; "
         "print(int(hwm) // 1024, r.status, *[f.code for f in r.findings])")


def peak(path: Path) -> tuple[int, list[str]]:
    out = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, cwd=ROOT,
                         check=True, timeout=120).stdout.split()
    return int(out[0]), out[1:]


@pytest.mark.parametrize("name,make,status", [
    ("extra-sheet-200k-rows", lambda: hostile.extra_sheet(200_000), "ok"),
    ("layout-sheet-50k-rows-below", lambda: hostile.long_layout_sheet(50_000), "ok"),
    ("nested-string-1m", lambda: hostile.nested_string(1_000_000), "unreadable"),
])
def test_peak_memory_is_bounded(tmp_path, name, make, status):
    p = tmp_path / f"{name}.xlsx"
    p.write_bytes(make())
    mb, result = peak(p)
    assert mb <= LIMIT_MB, (name, mb)
    assert result[0] == status, result
    if status == "unreadable":
        assert result[1:] == ["F119"]


def test_a_folder_check_keeps_findings_not_inputs():
    """What a folder check holds per file is its findings and figures: a few KB, in a worker or not.

    The re-score's inputs (layout, snapshot, computed values) stayed on every report, ~1 MB each:
    ``check -j 1`` of 200 returns grew to 265 MB, and each report a worker sent back pickled the
    whole layout (800 KB), which made two processes barely faster than one."""
    import pickle

    from workbook_tool.checker import check_file

    sample = ROOT / "samples" / "party-building-2024-filled.xlsx"
    rep = check_file(sample)
    assert rep.total_python == 99 and rep.layout is None and rep.snapshot is None and rep.computed is None
    assert len(pickle.dumps(rep)) < 20_000
    kept = check_file(sample, keep_inputs=True)  # the report draft (wbtool report) works from these
    assert kept.computed and kept.snapshot is not None
    sent = pickle.loads(pickle.dumps(kept))  # ... in-process only
    assert sent.layout is None and sent.total_python == 99
