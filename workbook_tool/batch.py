"""Batch work for the finance office: one workbook per roster row (collecting returns: :mod:`collect`).

The roster is the office's own table (CSV or xlsx) with a row per project. pandas reads it
(it copes with the encodings and Excel quirks of real rosters); pandas is imported only here, so
`wbtool check` stays fast.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .errors import WbtoolError
from .project import Project, load_project_file, parse_project, strip_fill
from .template import Template

HEADER_COLUMNS = {"项目名称": "name", "主管部门": "department", "实施单位": "unit", "年度": "year",
                  "name": "name", "department": "department", "unit": "unit", "year": "year"}
FILE_COLUMNS = ("文件名", "file")
PROJECT_COLUMNS = ("项目文件", "project_file")


@dataclass
class BatchResult:
    row: int
    path: Path | None
    error: str | None = None


def read_roster(path: str | Path) -> list[dict[str, Any]]:
    import pandas as pd

    p = Path(path)
    try:
        if p.suffix.lower() in (".xlsx", ".xlsm"):
            df = pd.read_excel(p, dtype=object)
        else:
            try:
                df = pd.read_csv(p, dtype=object, encoding="utf-8-sig")
            except UnicodeDecodeError:
                df = pd.read_csv(p, dtype=object, encoding="gb18030")
    except FileNotFoundError:
        raise WbtoolError("B001", f"找不到名单文件：{p}", f"roster not found: {p}") from None
    except Exception as e:  # pandas raises many parser types; the user needs one line
        raise WbtoolError("B002", f"无法读取名单 {p}：{type(e).__name__}: {e}", f"cannot read roster {p}: {type(e).__name__}: {e}") from None
    df = df.dropna(how="all")
    rows = []
    for rec in df.to_dict("records"):
        rows.append({str(k).strip(): (None if _isna(v) else v) for k, v in rec.items()})
    return rows


def _isna(v: Any) -> bool:
    try:
        return v != v  # NaN
    except Exception:
        return False


def _number(v: Any, where: str) -> float | None:
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    try:
        return float(str(v).replace(",", "").strip())
    except ValueError:
        raise WbtoolError("B003", f"{where} 应为数字（实际为 {v!r}）", f"{where} must be a number (got {v!r})") from None


def roster_project(row: dict[str, Any], tpl: Template, base_dir: Path, index: int) -> Project:
    """Turn one roster row into a project: header and funds columns, plus an optional project file."""
    data: dict[str, Any] = {}
    pf = next((row[c] for c in PROJECT_COLUMNS if row.get(c)), None)
    if pf:
        data = load_project_file(base_dir / str(pf))
    header = dict(data.get("project") or {})
    for col, key in HEADER_COLUMNS.items():
        if row.get(col) is not None:
            header[key] = row[col]
    if "year" in header:
        y = _number(header["year"], f"第 {index} 行 年度")
        header["year"] = int(y) if y is not None else None
        if header["year"] is None:
            header.pop("year")
    data["project"] = header
    funds = dict(data.get("funds") or {})
    total = dict(funds.get("total") or {})
    for c in tpl.funds_columns:
        for name in (c.label, c.en, c.id):
            if row.get(name) is not None:
                total[c.id] = _number(row[name], f"第 {index} 行 {c.label}")
    funds["total"] = total
    data["funds"] = funds
    data.pop("template", None)
    return strip_fill(parse_project(data, tpl, f"roster row {index}"))


def safe_name(text: str) -> str:
    name = re.sub(r'[\\/:*?"<>|\x00-\x1f]', "_", str(text)).strip(" .")
    return name[:80] or "project"


def issue_roster(roster: str | Path, tpl: Template, outdir: str | Path, lang: str = "zh", force: bool = False,
                 key: bytes | None = None, password: str | None = None,
                 on_row: Callable[[int, int, str], None] | None = None) -> list[BatchResult]:
    """One workbook per roster row; ``on_row(done, total, name)`` after each (progress display)."""
    from .writer import write_workbook

    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    rows = read_roster(roster)
    results: list[BatchResult] = []
    seen: set[str] = set()
    for i, row in enumerate(rows, start=2):  # row 1 is the header in the office's table
        try:
            pr = roster_project(row, tpl, Path(roster).parent, i)
            stem = next((str(row[c]) for c in FILE_COLUMNS if row.get(c)), None) or pr.header.get("name") or f"project-{i}"
            stem = safe_name(Path(stem).stem)
            if stem in seen:
                stem = f"{stem}-{i}"
            seen.add(stem)
            path = out / f"{stem}.xlsx"
            write_workbook(path, tpl, pr, lang, password, force, key)
            results.append(BatchResult(i, path))
        except WbtoolError as e:
            results.append(BatchResult(i, None, e.message(lang)))
        if on_row is not None:
            on_row(len(results), len(rows), str(results[-1].path or f"row {i}"))
    return results
