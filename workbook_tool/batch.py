"""Batch work for the finance office: one workbook per roster row, and one summary of many returns.

The roster is the office's own table (:mod:`roster` reads it as offices keep it): a 项目 sheet with
a row per project and, optionally, a 指标 sheet with a row per indicator. Issuing is all or
nothing: every row is read and every project checked (:mod:`issuecheck`) first, and if anything is
wrong the office gets the whole list and no file is written — a half-issued batch is harder to
repair than none.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .errors import WbtoolError
from .textsafe import safe
from .issuecheck import issue_problems
from .office import office_details
from .project import Project, load_project_file, parse_project, strip_fill
from .roster import IndicatorRow, Problem, RosterRow, TEMPLATE_WORDS, as_text, norm_header, parse_target, read_amount, \
    read_roster, read_year
from .template import Level, Template, builtin_templates, load_template
from .textnum import number_with_unit


@dataclass
class BatchResult:
    row: int
    path: Path | None
    error: str | None = None


@dataclass
class Planned:
    """One workbook to write: the roster row it came from, its template and issued project."""

    row: RosterRow
    tpl: Template
    project: Project
    path: Path


@dataclass
class Plan:
    items: list[Planned] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)
    problems: list[Any] = field(default_factory=list)  # anything with .message(lang)

    def refuse_if_problems(self) -> None:
        if not self.problems:
            return
        n = len(self.problems)
        # one line per problem: text from the office's file cannot start a line of its own
        zh = f"名单有 {n} 处问题，未生成任何文件：\n" + "\n".join("  " + safe(p.message("zh")) for p in self.problems)
        en = f"the roster has {n} problem(s); nothing was written:\n" + "\n".join("  " + safe(p.message("en")) for p in self.problems)
        raise WbtoolError("B006", zh, en)


def safe_name(text: str) -> str:
    name = re.sub(r'[\\/:*?"<>|\x00-\x1f]', "_", str(text)).strip(" .")
    return name[:80] or "project"


def _bare(s: Any) -> str:
    return norm_header(s).replace("指标", "")


def match_level(text: Any, tpl: Template) -> Level | None:
    """A level as exports write it: 产出指标 for the form's 产出, and the other way round."""
    return next((lv for lv in tpl.levels if _bare(lv.name) == _bare(text)), None)


def match_category(text: Any, lv: Level) -> str | None:
    """A second-level category: 数量指标 for 产出数量, 服务对象满意度指标 for 满意度指标 — when only one fits."""
    b = _bare(text)
    exact = [c for c in lv.categories if _bare(c) == b]
    if exact:
        return exact[0]
    stem = _bare(lv.name)
    loose = [c for c in lv.categories if _bare(c).removeprefix(stem) == b.removeprefix(stem)
             or (len(_bare(c)) >= 2 and b.endswith(_bare(c))) or (len(b) >= 2 and _bare(c).endswith(b))]
    return loose[0] if len(loose) == 1 else None


class _Templates:
    """Templates by what a roster's 模板 column says (id, file, or 自评表 / 评价指标体系)."""

    def __init__(self, default: Template, base_dir: Path):
        self.default, self.base_dir = default, base_dir
        self.cache: dict[str, Template] = {}

    def get(self, value: Any) -> Template:
        if value in (None, ""):
            return self.default
        v = str(value).strip()
        ref = TEMPLATE_WORDS.get(norm_header(v), v)
        if ref == self.default.id:
            return self.default
        if ref not in self.cache:
            if ref not in builtin_templates() and (self.base_dir / ref).exists():
                self.cache[ref] = load_template(self.base_dir / ref)
            else:
                self.cache[ref] = load_template(ref)
        return self.cache[ref]


def plan_roster(roster: str | Path, tpl: Template, outdir: str | Path, force: bool = False,
                indicators: str | Path | None = None) -> Plan:
    """Read the roster and check every project; nothing is written here."""
    base = Path(roster).parent
    labels = {c.label: c.id for c in tpl.funds_columns} | {c.en: c.id for c in tpl.funds_columns}
    ro = read_roster(roster, indicators, labels)
    plan = Plan(notes=list(ro.notes), problems=list(ro.problems))
    templates = _Templates(tpl, base)
    said: set[tuple[str, str]] = set()
    by_code: dict[str, list[IndicatorRow]] = {}
    by_name: dict[str, list[IndicatorRow]] = {}
    for ind in ro.indicators:
        if ind.values.get("code") not in (None, ""):
            by_code.setdefault(as_text(ind.values["code"]), []).append(ind)
        elif ind.values.get("project") not in (None, ""):
            by_name.setdefault(as_text(ind.values["project"]), []).append(ind)
        else:
            plan.problems.append(Problem(ind.sheet, ind.row, None, ind.values.get("name"), "没有项目编码或项目名称，无法对应到项目",
                                         "no project code or name: cannot tell which project it belongs to"))
    used: set[int] = set()
    seen: dict[str, int] = {}
    out = Path(outdir)
    for rr in ro.projects:
        v = rr.values
        where = f"{rr.sheet}第 {rr.row} 行"
        before = len(plan.problems)

        def bad(column: str | None, value: Any, zh: str, en: str, rr: RosterRow = rr) -> None:
            plan.problems.append(Problem(rr.sheet, rr.row, column, value, zh, en))

        try:
            t = templates.get(v.get("template"))
        except WbtoolError as e:
            bad("模板", v.get("template"), e.zh, e.en)
            continue
        data: dict[str, Any] = {}
        if v.get("project_file") not in (None, ""):
            try:
                data = load_project_file(base / str(v["project_file"]))
            except WbtoolError as e:
                bad("项目文件", v["project_file"], e.zh, e.en)
                continue
            data.pop("template", None)
        header = dict(data.get("project") or {})
        for k in ("name", "department", "unit"):
            if v.get(k) not in (None, ""):
                header[k] = as_text(v[k])
        if v.get("year") not in (None, ""):
            y = read_year(v["year"])
            if y is None:
                bad(ro.columns.get("year", "年度"), v["year"], "年度应为如 2024 的年份", "the year must be a year such as 2024")
            else:
                header["year"] = y
        data["project"] = header
        funds = dict(data.get("funds") or {})
        total = dict(funds.get("total") or {})
        cols = {c.id: c for c in t.funds_columns}
        for fid, val in rr.funds.items():
            if val in (None, "") or (isinstance(val, str) and not val.strip()):
                continue
            c = cols.get(fid)
            if c is None or not c.issued:
                key = (t.id, fid)
                if key not in said:
                    said.add(key)
                    why = ("模板 {0} 没有该资金列".format(t.id), f"template {t.id} has no such funds column") if c is None else \
                        ("该列由预算单位填写，不下达", "the unit fills this column; it is not issued")
                    plan.notes.append((f"资金列“{fid}”在使用模板 {t.id} 的行中未使用：{why[0]}",
                                       f"funds column '{fid}' not used for rows of template {t.id}: {why[1]}"))
                continue
            n, ok = read_amount(val)
            if not ok:
                bad(ro.funds_columns.get(fid, c.label), val, "金额应为数字（万元），如 12.5 或 12.5万元", "an amount must be a number in 万元, e.g. 12.5 or 12.5万元")
            elif n is not None:
                total[fid] = n
        funds["total"] = total
        data["funds"] = funds
        if v.get("goal") not in (None, ""):
            data["goal"] = {"expected": as_text(v["goal"])}
        inds = by_code.get(as_text(v["code"]), []) if v.get("code") not in (None, "") else []
        inds = inds + by_name.get(as_text(v["name"]), [])
        used.update(id(i) for i in inds)
        rows, origins = _indicator_rows(inds, t, plan)
        if rows:
            data["indicators"] = list(data.get("indicators") or []) + rows
        if len(plan.problems) > before:
            continue
        try:
            pr = parse_project(data, t, where)
            pr.office = office_details({k: v.get(k) for k in ("code", "deadline", "contact", "phone", "return_to")},
                                       base=data.get("office"), source=where)
        except WbtoolError as e:
            bad(None, None, e.zh, e.en)
            continue
        plan.problems.extend(issue_problems(pr, t, origins))
        stem = safe_name(Path(str(v.get("file"))).stem) if v.get("file") not in (None, "") else safe_name(header.get("name", ""))
        if stem in seen:
            stem = f"{stem}-{rr.row}"
        seen[stem] = rr.row
        path = out / f"{stem}.xlsx"
        if path.exists() and not force:
            bad("文件名", path.name, f"输出文件已存在：{path}（使用 --force 覆盖）", f"output exists: {path} (use --force to overwrite)")
        plan.items.append(Planned(rr, t, strip_fill(pr), path))
    for ind in ro.indicators:
        if id(ind) not in used and (ind.values.get("code") or ind.values.get("project")):
            key = ind.values.get("code") or ind.values.get("project")
            plan.problems.append(Problem(ind.sheet, ind.row, "项目编码" if ind.values.get("code") else "项目名称", key,
                                         "名单中没有这个项目", "no such project in the roster"))
    return plan


def _indicator_rows(inds: list[IndicatorRow], tpl: Template, plan: Plan) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The project-file form of a project's indicator rows; unreadable cells become problems."""
    rows: list[dict[str, Any]] = []
    origins: dict[str, str] = {}
    defaults = {d.name: d for d in tpl.indicators}
    for ind in inds:
        v = ind.values
        name = as_text(v["name"])
        origins[name] = f"{ind.sheet}第 {ind.row} 行"

        def bad(column: str, value: Any, zh: str, en: str, ind: IndicatorRow = ind) -> None:
            plan.problems.append(Problem(ind.sheet, ind.row, column, value, zh, en))

        row: dict[str, Any] = {"name": name}
        default = defaults.get(name)
        if default is not None and v.get("level") not in (None, ""):
            lvd = match_level(v["level"], tpl)
            default = default if lvd is not None and lvd.name == default.level else None
        if v.get("weight") in (None, "") and default is None:
            bad("分值", None, f"指标“{name}”缺少分值", f"'{name}' has no weight")
        elif v.get("weight") not in (None, ""):
            w, wu = number_with_unit(v["weight"])
            if w is None or wu not in ("", "分"):
                bad("分值", v["weight"], f"指标“{name}”的分值应为数字", f"the weight of '{name}' must be a number")
            else:
                row["weight"] = int(w) if w.is_integer() else w
        if v.get("note") not in (None, ""):
            row["note"] = as_text(v["note"])
        if v.get("score") not in (None, ""):
            s, _ = number_with_unit(v["score"])
            row["score"] = s if s is not None else v["score"]
        if default is not None:
            rows.append(row)  # the template's own row (dept-eval 决策/过程): the sheet may adjust weight and note
            continue
        lv = match_level(v.get("level"), tpl)
        if lv is None or not lv.categories:
            options = "、".join(x.name for x in tpl.levels if x.categories)
            bad("一级指标", v.get("level"), f"不是模板 {tpl.id} 的一级指标（可选：{options}）", f"is not a level of template {tpl.id} (options: {options})")
            continue
        row["level"] = lv.name
        if v.get("category") not in (None, ""):
            cat = match_category(v["category"], lv)
            if cat is None:
                bad("二级指标", v["category"], f"不属于一级指标“{lv.name}”（可选：{'、'.join(lv.categories)}）",
                    f"is not a category of '{lv.name}' (options: {', '.join(lv.categories)})")
                continue
            row["category"] = cat
        tg = parse_target(v.get("target"), v.get("op"), v.get("unit"), tpl.date_unit)
        for zh, en in tg.doubts:
            bad("指标值", v.get("target"), zh, en)
        if tg.doubts:
            continue
        if tg.op not in tpl.operators:
            bad("指标性质", v.get("op"), f"不是模板的指标性质（可选：{'、'.join(tpl.operators)}）", f"not an operator of the template ({', '.join(tpl.operators)})")
            continue
        row.update({"op": tg.op, "target": tg.value})
        if tg.unit:
            row["unit"] = tg.unit
        rows.append(row)
    return rows, origins


def issue_roster(roster: str | Path, tpl: Template, outdir: str | Path, lang: str = "zh", force: bool = False,
                 key: bytes | None = None, password: str | None = None,
                 indicators: str | Path | None = None, jobs: int | None = 1,
                 on_row: Callable[[int, int, str], None] | None = None,
                 ) -> tuple[list[BatchResult], list[tuple[str, str]]]:
    """Issue one workbook per roster row — all of them, or (when anything is wrong) none. The workbooks
    are written by :func:`pool.map_files` (``jobs``: 0 all cores, 1 this process), in roster order."""
    import functools

    from .pool import map_files

    plan = plan_roster(roster, tpl, outdir, force, indicators)
    plan.refuse_if_problems()
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    write = functools.partial(_issue_one, lang=lang, password=password, force=force, key=key)
    results: list[BatchResult] = []
    for res in map_files(write, [(it.row.row, it.tpl, it.project, it.path) for it in plan.items], jobs):
        results.append(res)
        if on_row is not None:  # progress: ``on_row(done, total, name)``
            on_row(len(results), len(plan.items), str(res.path or f"row {res.row}"))
    return results, plan.notes


def _issue_one(item: tuple[int, Template, Project, Path], lang: str, password: str | None, force: bool,
               key: bytes | None) -> BatchResult:
    """Write one roster row's workbook (in a worker process when there are many)."""
    from .writer import write_workbook

    row, tpl, pr, path = item
    try:
        write_workbook(path, tpl, pr, lang, password, force, key)
    except WbtoolError as e:  # e.g. a file created meanwhile: report it, go on with the rest
        return BatchResult(row, None, e.message(lang))
    return BatchResult(row, path)
