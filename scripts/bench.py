"""Benchmarks for wbtool, each figure beside a baseline measured in the same run (docs/benchmarks.md).

Machines here are shared and noisy, so milliseconds drift between runs; the ratio to a baseline
taken minutes apart on the same machine is what to compare over time.

| figure | baseline |
|---|---|
| ``wbtool check DIR --format json`` per file (all cores) | LibreOffice recalculating the same files in one call; python-calamine reading every value of them |
| ``wbtool collect`` of N returns (time, peak memory) | the same check per file |
| ``wbtool check one.xlsx`` as a command | ``python -c pass`` |
| ``wbtool new`` in process | writing the same cells as plain sheet XML into a zip (the write floor) |
| ``wbtool batch`` of 200 (all cores) | ``wbtool new`` in process |
| peak memory on the largest/deepest files within the limits | ``python -c pass`` |

Run: python scripts/bench.py [--repeat N] [--files 200] [--collect 1000] [--quick]
     python scripts/bench.py --floor   (one return's reading, part by part, against expat's own cost)
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import hostile  # noqa: E402

from workbook_tool.checker import check_file  # noqa: E402
from workbook_tool.pool import default_jobs  # noqa: E402
from workbook_tool.project import load_project_file, parse_project, strip_fill  # noqa: E402
from workbook_tool.recalc import find_soffice, recalculate  # noqa: E402
from workbook_tool.template import load_template  # noqa: E402
from workbook_tool.writer import write_workbook  # noqa: E402

SAMPLE = ROOT / "samples" / "party-building-2024-filled.xlsx"
PY = sys.executable
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def timeit(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def run(*args: str, cwd: Path = ROOT) -> None:
    """A wbtool command; exit 1 (returns with errors) is a normal outcome, 2 and above are not."""
    p = subprocess.run([PY, *args], capture_output=True, cwd=cwd, env=ENV)
    if p.returncode not in (0, 1):
        raise RuntimeError(f"{args}: exit {p.returncode}: {p.stderr.decode()[-500:]}")


PEAK = ("import runpy, sys; sys.argv = sys.argv[1:]\n"
        "try:\n    runpy.run_module(sys.argv[0], run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1], file=sys.stderr)")


def peak_mb(args: list[str]) -> float:
    """Peak RSS of a child running ``python -m args`` (VmHWM: the high-water mark of its own memory
    map; getrusage's maxrss would include the parent's peak, inherited across fork and exec)."""
    p = subprocess.run([PY, "-c", PEAK, *args], capture_output=True, text=True, cwd=ROOT, env=ENV)
    return int(p.stderr.strip().splitlines()[-1]) / 1024


# ---- corpus -----------------------------------------------------------------------------------

def varied_returns(folder: Path, n: int = 10) -> list[Path]:
    """n filled returns of the seed project with different actuals, recalculated by LibreOffice."""
    de = load_template("dept-eval")
    data = load_project_file(ROOT / "samples" / "party-building-2024.yaml")
    rng = random.Random(3)
    src = folder / "src"
    src.mkdir()
    paths = []
    for i in range(n):
        d = dict(data)
        d["indicators"] = [dict(x) for x in data["indicators"]]
        for ind in d["indicators"]:
            if isinstance(ind.get("actual"), (int, float)) and not isinstance(ind.get("actual"), bool):
                ind["actual"] = round(ind["actual"] * rng.uniform(0.6, 1.3), 2)
        p = src / f"return-{i:02d}.xlsx"
        write_workbook(p, de, parse_project(d, de), force=True)
        paths.append(p)
    out = folder / "recalculated"
    out.mkdir()
    return recalculate(paths, out)


def copies(files: list[Path], folder: Path, n: int) -> list[Path]:
    folder.mkdir()
    out = []
    for i in range(n):
        p = folder / f"r{i:04d}.xlsx"
        shutil.copyfile(files[i % len(files)], p)
        out.append(p)
    return out


def libreoffice_batch(files: list[Path], folder: Path) -> float:
    soffice = find_soffice()
    assert soffice, "LibreOffice is needed for the baseline"
    out = folder / "lo-out"
    out.mkdir(exist_ok=True)
    t = time.perf_counter()
    recalculate(files, out)
    return time.perf_counter() - t


def calamine_all(files: list[Path]) -> float:
    from python_calamine import CalamineWorkbook

    t = time.perf_counter()
    for p in files:
        wb = CalamineWorkbook.from_path(str(p))
        for name in wb.sheet_names:
            wb.get_sheet_by_name(name).to_python()
    return time.perf_counter() - t


def xml_floor(path: Path) -> float:
    """Write the cells of a generated workbook as bare sheet XML (inline strings) into a zip in memory."""
    from workbook_tool import xlsxread

    with zipfile.ZipFile(path) as z:
        names = [n for n, _p in xlsxread._workbook_info(z, xlsxread._parts(z, set(z.namelist()))[0], set(z.namelist())).sheets]
        book = xlsxread.read_book(z, names)
    sheets = {name: sorted(book.sheets[name].items()) for name in names}

    def esc(s: str) -> str:
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    def write() -> None:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for i, (name, cells) in enumerate(sheets.items()):
                parts = ['<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>']
                for (r, c), cell in cells:
                    ref = f"{xlsxread.col_name(c - 1)}{r}"
                    if cell.type == "f":
                        parts.append(f'<c r="{ref}"><f>{esc(str(cell.value)[1:])}</f></c>')
                    elif isinstance(cell.value, str):
                        parts.append(f'<c r="{ref}" t="inlineStr"><is><t>{esc(cell.value)}</t></is></c>')
                    elif cell.value is not None:
                        parts.append(f'<c r="{ref}"><v>{cell.value}</v></c>')
                parts.append("</sheetData></worksheet>")
                z.writestr(f"xl/worksheets/sheet{i + 1}.xml", "".join(parts))

    return write


# ---- the reading floor ------------------------------------------------------------------------

def reading_floor(path: Path, repeat: int) -> None:
    """Where reading one return stands against what expat itself costs, part by part.

    For each part ``check`` parses: expat with no Python callbacks (the C floor), expat calling a
    Python function that does nothing for each element start and end (the floor of any reader
    that sees elements one by one in Python), and wbtool's reader; then the whole check."""
    from xml.parsers import expat

    from workbook_tool import xlsxread
    from workbook_tool.checker import PROTECTION_ONLY_SHEETS, READ_SHEETS
    from workbook_tool.metadata import META_ROWS, META_SHEET_NAMES

    def noop(*_a: object) -> None:
        return None

    def parse(data: bytes, callbacks: bool) -> None:
        p = expat.ParserCreate(namespace_separator=" ")
        p.buffer_text = True
        if callbacks:
            p.StartElementHandler = noop
            p.EndElementHandler = noop
        p.Parse(data, True)

    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        info = xlsxread._workbook_info(z, xlsxread._parts(z, names)[0], names)
        parts = [(n, p) for n, p in info.sheets if n in READ_SHEETS]
        rows = [("part", "KB", "elements", "expat alone", "no-op callbacks", "wbtool's reader")]
        total = [0.0, 0.0, 0.0]
        for name, part in parts + [("(shared strings)", "xl/sharedStrings.xml")]:
            data = z.read(part)
            elements = data.count(b"<") - data.count(b"</") - data.count(b"<?")
            if part.endswith("sharedStrings.xml"):
                wanted = set(range(elements))
                mine = timeit(lambda: xlsxread._shared_strings(z, part, wanted), repeat)
            else:
                mine = timeit(lambda: xlsxread._read_sheet(z, part, xlsxread.MAX_ROW, xlsxread.MAX_COL), repeat)
            bare = timeit(lambda: parse(data, False), repeat)
            calls = timeit(lambda: parse(data, True), repeat)
            for i, v in enumerate((bare, calls, mine)):
                total[i] += v
            rows.append((name, f"{len(data) / 1024:.0f}", str(elements), f"{bare * 1000:.2f} ms", f"{calls * 1000:.2f} ms",
                         f"{mine * 1000:.2f} ms"))
        rows.append(("all", "", "", *(f"{v * 1000:.2f} ms" for v in total)))
        whole = timeit(lambda: xlsxread.read_book(z, READ_SHEETS, META_SHEET_NAMES, META_ROWS + 3,
                                                   PROTECTION_ONLY_SHEETS), repeat)
    check = timeit(lambda: check_file(path), repeat)
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    for r in rows:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    print(f"read_book (all parts, values built): {whole * 1000:.1f} ms; check_file in process: {check * 1000:.1f} ms; "
          f"no-op callbacks are {total[1] / check:.0%} of the check, wbtool's reader {total[2] / check:.0%}")


# ---- main -------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--files", type=int, default=200, help="returns in the check-many run")
    ap.add_argument("--collect", type=int, default=1000, help="returns in the collect run")
    ap.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    ap.add_argument("--floor", action="store_true", help="only: one return's reading time part by part, against expat's own")
    a = ap.parse_args()
    if a.floor:
        tmp = Path(tempfile.mkdtemp(prefix="wbtool-bench-"))
        reading_floor(varied_returns(tmp, 1)[0], max(a.repeat, 15))
        shutil.rmtree(tmp, ignore_errors=True)
        return
    if a.quick:
        a.repeat, a.files, a.collect = 3, 20, 40
    n = a.repeat
    tmp = Path(tempfile.mkdtemp(prefix="wbtool-bench-"))
    rows: list[tuple[str, str, str, str]] = []  # what, figure, baseline, ratio

    def add(what: str, value: float, unit: str, base_name: str, base: float, better: str = "×") -> None:
        rows.append((what, f"{value:.1f} {unit}", f"{base_name}: {base:.1f} {unit}", f"{value / base:.2f}{better}"))
        print("  ..", " | ".join(rows[-1]), file=sys.stderr, flush=True)  # progress: a long run can be read as it goes

    print(f"machine: {default_jobs()} cores; Python {sys.version.split()[0]}; corpus in {tmp}", flush=True)
    varied = varied_returns(tmp, 10)
    many = copies(varied, tmp / "many", a.files)

    # check of many files, all cores, vs LibreOffice batch and calamine on the same files
    t = timeit(lambda: run("-m", "workbook_tool", "check", str(tmp / "many"), "--format", "json"), max(1, n // 3))
    per_check = t / len(many) * 1000
    lo_files = many[: min(len(many), 50)]
    per_lo = libreoffice_batch(lo_files, tmp) / len(lo_files) * 1000
    per_cal = calamine_all(many) / len(many) * 1000
    add(f"check {len(many)} returns (`check DIR --format json`, all cores), per file", per_check, "ms",
        f"LibreOffice batch recalculation ({len(lo_files)} files, one call), per file", per_lo)
    add("  same figure", per_check, "ms", "python-calamine reading every value, per file", per_cal)
    t1 = timeit(lambda: run("-m", "workbook_tool", "check", str(tmp / "many"), "--format", "json", "-j", "1"), 1)
    add("  same with --jobs 1", t1 / len(many) * 1000, "ms", "python-calamine, per file", per_cal)

    # collect: time and peak memory
    coll = copies(varied, tmp / "collect", a.collect)
    out = tmp / "summary.csv"
    t = time.perf_counter()
    run("-m", "workbook_tool", "collect", str(tmp / "collect"), "-o", str(out), "--force")
    tc = time.perf_counter() - t
    add(f"collect {len(coll)} returns, whole command", tc, "s", "the check-many figure × count",
        per_check * len(coll) / 1000)
    mem_collect = peak_mb(["workbook_tool", "collect", str(tmp / "collect"), "-o", str(out), "--force", "-j", "1"])

    # one file as a command
    pas = timeit(lambda: run("-c", "pass"), max(3, n))
    one = timeit(lambda: run("-m", "workbook_tool", "check", str(varied[0])), max(3, n))
    add("`wbtool check one.xlsx`, whole command", one * 1000, "ms", "python -c pass", pas * 1000)

    # new, in process, vs the plain XML write floor
    se, de = load_template("self-eval"), load_template("dept-eval")
    seed = strip_fill(parse_project(load_project_file(ROOT / "samples" / "party-building-2024.yaml"), de))
    out_x = tmp / "new.xlsx"
    write_workbook(out_x, de, seed, force=True)
    floor = timeit(xml_floor(out_x), n)
    for name, args in (("blank self-eval", (se,)), ("blank dept-eval", (de,)), ("seed project prefilled", (de, seed))):
        write_workbook(out_x, *args, force=True)
        add(f"new: {name}, in process", timeit(lambda: write_workbook(out_x, *args, force=True), n) * 1000, "ms",
            "same cells as plain XML into a zip", floor * 1000)

    # batch of 200, all cores
    roster = tmp / "roster.csv"
    with open(roster, "w", newline="", encoding="utf-8-sig") as fh:
        w = csv.writer(fh)
        w.writerow(["项目名称", "主管部门", "实施单位", "年度", "预算资金"])
        for i in range(200):
            w.writerow([f"项目{i:03d}", "某局", "某单位", 2024, 10 + i])
    new_in_process = timeit(lambda: write_workbook(out_x, de, force=True), n)
    t = time.perf_counter()
    run("-m", "workbook_tool", "batch", str(roster), "-t", "dept-eval", "-o", str(tmp / "batch"), "--force")
    tb = time.perf_counter() - t
    add("batch 200 (all cores), per workbook", tb / 200 * 1000, "ms", "new in process, per workbook",
        new_in_process * 1000)

    # memory
    base_mem = peak_mb(["workbook_tool", "--version"])
    for name, make in (("extra sheet 200,000 rows × 5", hostile.extra_sheet),
                       ("200,000 rows below a layout sheet", hostile.long_layout_sheet),
                       ("shared string of 1,000,000 nested elements", hostile.nested_string)):
        p = tmp / "hostile.xlsx"
        p.write_bytes(make())
        add(f"peak memory, check of {name} ({p.stat().st_size / 1e6:.1f} MB file)",
            peak_mb(["workbook_tool", "check", str(p)]), "MB", "wbtool --version", base_mem)
    add(f"peak memory, collect of {len(coll)} returns (--jobs 1)", mem_collect, "MB", "wbtool --version", base_mem)

    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    w2 = max(len(r[2]) for r in rows)
    print(f"{'what':<{w0}}  {'figure':>{w1}}  {'baseline (same run)':<{w2}}  ratio")
    for r in rows:
        print(f"{r[0]:<{w0}}  {r[1]:>{w1}}  {r[2]:<{w2}}  {r[3]}")
    mods = subprocess.run([PY, "-c", "import sys, workbook_tool.cli, workbook_tool.checker, workbook_tool.report; "
                           "print(sorted(m for m in ('openpyxl', 'xlsxwriter', 'pandas', 'numpy') if m in sys.modules))"],
                          capture_output=True, text=True, cwd=ROOT, env=ENV).stdout.strip()
    print(f"libraries imported by check: {mods}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
