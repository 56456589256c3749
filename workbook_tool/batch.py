"""Batch work for the finance office: one workbook per roster row, and one summary of many returns.

The roster is the office's own table (CSV or xlsx) with a row per project. pandas reads it
(it copes with the encodings and Excel quirks of real rosters); pandas is imported only here, so
`wbtool check` stays fast.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
                 key: bytes | None = None, password: str | None = None, jobs: int | None = 1) -> list[BatchResult]:
    """One workbook per roster row. Rows are parsed and named here, in order (names must be unique);
    the workbooks are written by :func:`pool.map_files` (``jobs``: 0 all cores, 1 this process)."""
    import functools

    from .pool import map_files

    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    rows = read_roster(roster)
    results: list[BatchResult] = []
    plans: list[tuple[int, Project, Path]] = []
    seen: set[str] = set()
    for i, row in enumerate(rows, start=2):  # row 1 is the header in the office's table
        try:
            pr = roster_project(row, tpl, Path(roster).parent, i)
            stem = next((str(row[c]) for c in FILE_COLUMNS if row.get(c)), None) or pr.header.get("name") or f"project-{i}"
            stem = safe_name(Path(stem).stem)
            if stem in seen:
                stem = f"{stem}-{i}"
            seen.add(stem)
            plans.append((i, pr, out / f"{stem}.xlsx"))
        except WbtoolError as e:
            results.append(BatchResult(i, None, e.message(lang)))
    write = functools.partial(_issue_one, tpl=tpl, lang=lang, password=password, force=force, key=key)
    results.extend(map_files(write, plans, jobs))
    return sorted(results, key=lambda r: r.row)


def _issue_one(plan: tuple[int, Project, Path], tpl: Template, lang: str, password: str | None, force: bool,
               key: bytes | None) -> BatchResult:
    """Write one roster row's workbook (runs in a worker process when there are many)."""
    from .writer import write_workbook

    i, pr, path = plan
    try:
        write_workbook(path, tpl, pr, lang, password, force, key)
    except WbtoolError as e:
        return BatchResult(i, None, e.message(lang))
    return BatchResult(i, path)


# ---- collecting returns ---------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def summary_rows(reports: list[Any], lang: str = "zh") -> list[dict[str, Any]]:
    """One row per checked return: who, which template, status, Python and workbook totals, levels, main problems."""
    from .findings import ERROR, WARNING

    zh = lang != "en"
    rows = []
    level_names: list[str] = []
    for r in reports:
        for lv in r.levels:
            if lv["name"] not in level_names:
                level_names.append(lv["name"])
    for r in reports:
        h = r.header or {}
        row: dict[str, Any] = {
            ("文件" if zh else "file"): r.path,
            ("项目名称" if zh else "project"): h.get("name"),
            ("主管部门" if zh else "department"): h.get("department"),
            ("实施单位" if zh else "unit"): h.get("unit"),
            ("年度" if zh else "year"): h.get("year"),
            ("模板" if zh else "template"): r.template,
            ("状态" if zh else "status"): r.status,
            ("总分" if zh else "total"): r.total_python if isinstance(r.total_python, (int, float)) else None,
            ("工作簿总分" if zh else "workbook total"): r.total_workbook if r.recalculated else None,
            ("等级" if zh else "grade"): r.grade_python or None,
            ("错误" if zh else "errors"): r.count(ERROR),
            ("警告" if zh else "warnings"): r.count(WARNING),
        }
        by_name = {lv["name"]: lv["python"] for lv in r.levels}
        for name in level_names:
            row[name] = by_name.get(name)
        problems = [f.message(lang) for f in r.findings if f.severity == ERROR][:3]
        row["主要问题" if zh else "main problems"] = "；".join(problems) or None
        rows.append(row)
    return rows


def _as_text(v: Any) -> Any:
    """Text from returns is data, never a formula, in the office's CSV (a unit named '=cmd|…' stays text)."""
    if isinstance(v, str) and v.startswith(_FORMULA_START):
        return "'" + v
    return v


def write_summary(reports: list[Any], output: str | Path, lang: str = "zh", force: bool = False) -> Path:
    """Write the consolidated summary (.xlsx or .csv) atomically."""
    import os

    import pandas as pd

    from .writer import atomic_output

    out = Path(output)
    tmp = atomic_output(out, force)
    try:
        df = pd.DataFrame(summary_rows(reports, lang))
        if out.suffix.lower() == ".csv":
            df.map(_as_text).to_csv(tmp, index=False, encoding="utf-8-sig")
        else:
            with pd.ExcelWriter(tmp, engine="xlsxwriter",
                                engine_kwargs={"options": {"strings_to_formulas": False, "strings_to_urls": False}}) as xw:
                sheet = "汇总" if lang != "en" else "Summary"
                df.to_excel(xw, sheet_name=sheet, index=False)
                ws = xw.sheets[sheet]
                ws.freeze_panes(1, 2)
                ws.set_column(0, 0, 36)
                ws.set_column(1, 3, 24)
                ws.set_column(len(df.columns) - 1, len(df.columns) - 1, 80)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out
