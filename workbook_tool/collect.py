"""`wbtool collect`: every file of the returns folder checked and accounted for, in one summary an
office can hand to its leader.

Three steps, kept apart so each can be tested and the first can run in a worker process:

1. :func:`list_inputs` — every file under the given folders, except lock/temp files and the
   summaries this command wrote (a previous ``汇总.xlsx`` in the same folder is not a return);
2. :func:`summarise` — one file → one small, picklable :class:`Record` (what the summary needs of
   the checker's report, nothing more);
3. :func:`build` — records (+ the roster) → a :class:`Summary`: duplicates, missing and unexpected
   returns, ranking; then :mod:`collect_out` writes it as .xlsx or .csv.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .findings import ERROR, WARNING
from .fold import leading
from .wording import brief

# Files never read as returns: office lock files, our own temporary files, hidden files.
SKIP_PREFIXES = ("~$", ".~", ".wbtool-", ".")
SUMMARY_PROPERTY = "wbtool.summary"  # custom document property of every summary collect writes
CSV_MARKER = "排名,"  # first header cell of collect's CSV ranking (also "Rank,")

# Findings that make a score unreliable: the summary shows 待核实 instead of a grade.
TAMPERED = ("S003", "S004", "S005", "S009", "S010", "S011", "S012", "S013", "S014")
UNSIGNED = ("S006",)
NOT_RECALCULATED = ("X002", "X003")
# Intake codes of files that are not spreadsheets at all (a PDF, a Word file, text, an image).
NOT_WORKBOOK = ("F113", "F114", "F115", "F120")

KIND_WORKBOOK, KIND_NOT_WORKBOOK, KIND_UNREADABLE = "workbook", "not_workbook", "unreadable"


@dataclass
class Problem:
    code: str
    severity: str
    sheet: str | None
    cell: str | None
    indicator: str | None
    message: str

    @property
    def where(self) -> str:
        if not self.sheet:
            return ""
        return f"{self.sheet}!{self.cell}" if self.cell else self.sheet


@dataclass
class Record:
    """What the summary needs of one checked file; small and picklable (a worker process returns it)."""

    path: str
    kind: str
    status: str  # ok | warnings | errors | unreadable
    sha256: str = ""
    mtime: float = 0.0
    template: str | None = None
    fingerprint: str | None = None
    project_issued: bool = False
    name: str | None = None
    department: str | None = None
    unit: str | None = None
    year: int | None = None
    total: float | None = None
    grade: str | None = None
    levels: dict[str, Any] = field(default_factory=dict)
    budget: float | None = None
    spent: float | None = None
    execution: float | None = None  # a fraction: 0.95 is shown as 95 %
    verify: list[str] = field(default_factory=list)  # why the score needs checking (待核实)
    errors: int = 0
    warnings: int = 0
    problems: list[Problem] = field(default_factory=list)
    # filled by build()
    duplicate_of: str | None = None
    roster_row: int | None = None

    @property
    def file(self) -> str:
        return Path(self.path).name


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _year(v: Any) -> int | None:
    """Years as integers (a header read back as 2024.0, or text "2024年")."""
    if isinstance(v, (int, float)) and not isinstance(v, bool) and float(v).is_integer():
        return int(v)
    if isinstance(v, str):
        digits = "".join(ch for ch in v if ch.isdigit())
        return int(digits) if len(digits) == 4 else None
    return None


def _text(v: Any) -> str | None:
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def summarise(path: str | Path, templates: list[Any] | None = None, key: bytes | None = None,
              lang: str = "zh") -> Record:
    """Check one file and keep what the summary needs. Module-level so a process pool can call it."""
    from .checker import check_file

    p = Path(path)
    rep = check_file(p, templates, key)
    try:
        data = p.read_bytes()
        digest, mtime = hashlib.sha256(data).hexdigest(), p.stat().st_mtime
    except OSError:
        digest, mtime = "", 0.0
    codes = {f.code for f in rep.findings}
    if rep.status == "unreadable":
        kind = KIND_NOT_WORKBOOK if codes & set(NOT_WORKBOOK) else KIND_UNREADABLE
    else:
        kind = KIND_WORKBOOK
    h = rep.header or {}
    verify = []
    if codes & set(TAMPERED):
        verify.append("内容被修改" if lang != "en" else "tampered")
    if codes & set(UNSIGNED):
        verify.append("未签名" if lang != "en" else "not signed")
    if codes & set(NOT_RECALCULATED):
        verify.append("未重新计算" if lang != "en" else "not recalculated")
    if rep.unfilled:
        verify.append("未填写" if lang != "en" else "never filled in")
    problems = [Problem(it.finding.code, it.finding.severity or ERROR, it.finding.sheet, it.finding.cell,
                        it.finding.indicator, brief(it.finding, lang))
                for it in leading(rep.findings, rep.sheet_order) if it.finding.severity in (ERROR, WARNING)]
    return Record(
        path=str(p), kind=kind, status=rep.status, sha256=digest, mtime=mtime, template=rep.template,
        fingerprint=rep.fingerprint, project_issued=rep.meta.get("project_issued") == "1",
        name=_text(h.get("name")), department=_text(h.get("department")), unit=_text(h.get("unit")),
        year=_year(h.get("year")),
        total=_num(rep.total_python), grade=_text(rep.grade_python),
        levels={lv["name"]: _num(lv["python"]) for lv in rep.levels},
        budget=_num(rep.funds.get("budget")), spent=_num(rep.funds.get("spent")),
        execution=_num(rep.rates.get("execution")),
        # counted as 问题清单 lists them: causes, not their follow-ons (an empty return: 1, not 41)
        verify=verify, errors=sum(p.severity == ERROR for p in problems),
        warnings=sum(p.severity == WARNING for p in problems), problems=problems,
    )


# ---- which files are returns -----------------------------------------------------------------------

def is_own_output(p: Path) -> bool:
    """A summary collect wrote earlier (xlsx with our document property, or our CSV ranking)."""
    try:
        if p.suffix.lower() == ".csv":
            with p.open("rb") as f:
                head = f.read(64).decode("utf-8-sig", errors="ignore")
            return head.startswith((CSV_MARKER, "Rank,", "实施单位,项目名称,指标", "文件,类型,状态", "名单行,项目名称"))
        with zipfile.ZipFile(p) as z:
            if "docProps/custom.xml" not in z.namelist():
                return False
            return SUMMARY_PROPERTY.encode() in z.read("docProps/custom.xml")
    except (OSError, zipfile.BadZipFile, ValueError):
        return False


def list_inputs(paths: list[str | Path], exclude: list[Path] | None = None) -> tuple[list[Path], list[Path]]:
    """Every file to account for: files as given, all files inside folders (recursively), minus lock
    and temporary files, hidden files, the output(s) of this run and earlier summaries; and the
    folders that could not be listed (accounted for too)."""
    skip = {x.resolve() for x in exclude or []}
    out: list[Path] = []
    unreadable: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = []
            for top, dirs, names in os.walk(p, onerror=lambda e: unreadable.append(Path(e.filename))):
                dirs.sort()
                found.extend(Path(top) / n for n in names)
            found.sort()
        else:
            found = [p]
        for x in found:
            if p.is_dir() and (x.name.startswith(SKIP_PREFIXES) or x.name in ("Thumbs.db", "desktop.ini")):
                continue
            if x.exists() and x.resolve() in skip:
                continue
            if p.is_dir() and (not x.is_file() or is_own_output(x)):
                continue
            out.append(x)
    return out, unreadable


def folder_record(path: Path) -> Record:
    """A folder of returns that could not be listed (F122): reported like an unreadable file."""
    from .checker import unreadable_folder

    rep = unreadable_folder(path)
    f = rep.findings[0]
    return Record(path=str(path), kind=KIND_UNREADABLE, status="unreadable",
                  problems=[Problem(f.code, f.severity or ERROR, None, None, None, f.message())], errors=1)


# ---- the summary -------------------------------------------------------------------------------------

@dataclass
class RosterRow:
    row: int  # 1-based line in the office's table (header = 1)
    name: str | None
    department: str | None
    unit: str | None
    year: int | None
    file: str | None


@dataclass
class Summary:
    records: list[Record]
    roster: list[RosterRow] | None = None
    missing: list[RosterRow] = field(default_factory=list)
    unexpected: list[Record] = field(default_factory=list)
    created: dt.datetime = field(default_factory=lambda: dt.datetime.now().replace(microsecond=0))

    @property
    def workbooks(self) -> list[Record]:
        """Readable returns, each project once (duplicates left out)."""
        return [r for r in self.records if r.kind == KIND_WORKBOOK and r.duplicate_of is None]

    @property
    def duplicates(self) -> list[Record]:
        return [r for r in self.records if r.duplicate_of is not None]

    def ranked(self) -> list[tuple[int | None, Record]]:
        """Verified returns by total (highest first, ties share a rank), then those to verify, unscored last."""
        ok = sorted((r for r in self.workbooks if r.total is not None and not r.verify),
                    key=lambda r: (-(r.total or 0), r.unit or "", r.name or ""))
        out: list[tuple[int | None, Record]] = []
        prev, rank = None, 0
        for i, r in enumerate(ok, start=1):
            if r.total != prev:
                rank, prev = i, r.total
            out.append((rank, r))
        rest = [r for r in self.workbooks if r not in ok]
        out += [(None, r) for r in sorted(rest, key=lambda r: (r.total is None, -(r.total or 0), r.file))]
        return out

    def level_names(self) -> list[str]:
        names: list[str] = []
        for r in self.workbooks:
            for n in r.levels:
                if n not in names:
                    names.append(n)
        return names

    def counts(self) -> dict[str, int]:
        wb = self.workbooks
        return {
            "received": len(self.records),
            "workbooks": len(wb),
            "passed": sum(1 for r in wb if r.status == "ok"),
            "warnings": sum(1 for r in wb if r.status == "warnings"),
            "errors": sum(1 for r in wb if r.status == "errors"),
            "verify": sum(1 for r in wb if r.verify),
            "unreadable": sum(1 for r in self.records if r.kind == KIND_UNREADABLE),
            "not_workbook": sum(1 for r in self.records if r.kind == KIND_NOT_WORKBOOK),
            "duplicates": len(self.duplicates),
            "missing": len(self.missing),
            "unexpected": len(self.unexpected),
        }


def _project_key(name: Any, unit: Any) -> tuple[str, str]:
    return ("".join(str(name or "").split()), "".join(str(unit or "").split()))


def mark_duplicates(records: list[Record]) -> None:
    """The same issued workbook (fingerprint of a project issue) or the same project returned twice:
    the most recently modified copy counts, the others name it in ``duplicate_of``."""
    groups: dict[tuple[str, ...], list[Record]] = {}
    for r in records:
        if r.kind != KIND_WORKBOOK:
            continue
        keys = []
        if r.fingerprint and r.project_issued:
            keys.append(("fp", r.fingerprint))
        if r.name:
            keys.append(("project",) + _project_key(r.name, r.unit) + (str(r.year or ""),))
        keys.append(("sha", r.sha256))
        for k in keys:
            groups.setdefault(k, []).append(r)
    for members in groups.values():
        alive = [r for r in members if r.duplicate_of is None]
        if len(alive) < 2:
            continue
        keep = max(alive, key=lambda r: (r.mtime, r.path))
        for r in alive:
            if r is not keep:
                r.duplicate_of = keep.path


def read_roster_rows(path: str | Path) -> list[RosterRow]:
    """The issued projects, from the roster `wbtool batch` issued from — read by the same reader
    (roster.py: header found below title rows, synonyms, 合计 rows skipped), so what was issued and
    what is expected back are the same list."""
    from .roster import read_roster

    out = []
    for pr in read_roster(path).projects:
        v = pr.values
        name = _text(v.get("name"))
        if name is None:
            continue
        out.append(RosterRow(pr.row, name, _text(v.get("department")), _text(v.get("unit")), _year(v.get("year")),
                             _text(v.get("file"))))
    return out


def build(records: list[Record], roster: list[RosterRow] | None = None) -> Summary:
    """Duplicates, then (with a roster) which issued projects came back, which did not, which were not issued."""
    mark_duplicates(records)
    s = Summary(records, roster)
    if roster is None:
        return s
    by_name: dict[str, list[RosterRow]] = {}
    for rr in roster:
        by_name.setdefault(_project_key(rr.name, None)[0], []).append(rr)
    matched: set[int] = set()
    for r in records:
        if r.kind != KIND_WORKBOOK:
            continue
        cands = by_name.get(_project_key(r.name, None)[0], [])
        if len(cands) > 1:  # the same project name for several units: the unit decides
            cands = [c for c in cands if _project_key(None, c.unit)[1] == _project_key(None, r.unit)[1]] or cands
        if not cands and r.file:  # a unit that retyped the project name: the issued file name still tells
            cands = [c for c in roster if c.file and Path(c.file).stem == Path(r.file).stem]
        if cands:
            r.roster_row = cands[0].row
            matched.add(cands[0].row)
        elif r.duplicate_of is None:
            s.unexpected.append(r)
    s.missing = [rr for rr in roster if rr.row not in matched]
    return s
