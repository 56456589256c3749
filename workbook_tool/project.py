"""Project files (``--project``): what the finance office issues for one project, and optionally what was filled.

A project file is YAML (format in the README). Issued content — header, funds budgets, indicator
definitions and targets, the expected goal — is written locked; fill content (actuals, grades,
scores, explanations, spent amounts) is written into open input cells, which is how the samples and
the test fixtures describe a filled return.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ProjectFileError
from .template import Template
from .textsafe import decode_office_text

ISSUED_INDICATOR_KEYS = ("level", "category", "name", "op", "target", "unit", "weight", "note")
FILL_INDICATOR_KEYS = ("actual", "grade", "score", "na", "explain")
_TOP = {"template", "project", "goal", "funds", "indicators", "default_indicators", "rates", "sign", "levels", "office"}


@dataclass
class Project:
    template: str | None = None
    header: dict[str, Any] = field(default_factory=dict)
    goal_expected: str | None = None
    goal_actual: str | None = None
    funds_total: dict[str, Any] = field(default_factory=dict)
    funds_items: list[dict[str, Any]] = field(default_factory=list)
    indicators: list[dict[str, Any]] = field(default_factory=list)  # final row list (defaults merged)
    rates: dict[str, str] = field(default_factory=dict)  # rate id → explanation
    sign: dict[str, Any] = field(default_factory=dict)
    level_weights: dict[str, float] = field(default_factory=dict)  # adjusted first-level weights
    source: str = ""
    #: funds columns the office issues (locked); the others (arrived, spent…) are the unit's to fill
    issued_funds: tuple[str, ...] = ()
    #: True once :func:`strip_fill` made this the issued part only: the writer then refuses to put
    #: anything into a cell the unit fills (a second guard against the 7.94 leak of issue #12)
    issued_only: bool = False
    #: the office's details for this issue (报送截止日期, 联系人, 联系电话, 报送方式, 项目编码): on 说明 and in the metadata
    office: dict[str, Any] = field(default_factory=dict)


def _fail(source: str, key: str | tuple[str, str], expected: str | tuple[str, str], got: Any = None) -> ProjectFileError:
    """P001 naming the key and what it should be — in Chinese, and in English for --lang en."""
    kz, ke = (key, key) if isinstance(key, str) else key
    ez, ee = (expected, expected) if isinstance(expected, str) else expected
    g_zh = "" if got is None else f"（实际为 {got!r}）"
    g_en = "" if got is None else f" (got {got!r})"
    return ProjectFileError("P001", f"项目文件 {source} 无效：{kz} 应为{ez}{g_zh}",
                            f"project file {source} is invalid: {ke} must be {ee}{g_en}")


def _sub(key: tuple[str, str], sub: str) -> tuple[str, str]:
    """``indicators 第 3 项（名称）`` + ``.op``: rows counted from 1 and named, as people count them."""
    return f"{key[0]} 的 {sub}", f"{key[1]}.{sub}"


def _number(v: Any, source: str, key: str | tuple[str, str], allow_none: bool = True) -> Any:
    if v is None and allow_none:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _fail(source, key, ("数字", "a number"), v)
    return v


def load_project_file(path: str | Path) -> dict[str, Any]:
    """The YAML mapping of a project file: UTF-8 (with or without BOM), or GBK/GB18030 as Notepad saves it."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ProjectFileError("P002", f"找不到项目文件 {p}", f"project file {p} not found") from None
    except OSError as e:
        raise ProjectFileError("P002", f"无法读取项目文件 {p}：{e.strerror or e}", f"cannot read project file {p}: {e}") from None
    text = decode_office_text(raw)
    if text is None:
        raise ProjectFileError("P002", f"无法读取项目文件 {p}：编码既不是 UTF-8 也不是 GBK/GB18030",
                               f"cannot read project file {p}: neither UTF-8 nor GBK/GB18030")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at_zh = f"第 {mark.line + 1} 行第 {mark.column + 1} 列附近" if mark is not None else ""
        raise ProjectFileError("P003", f"项目文件 {p} 不是有效的 YAML：{at_zh}格式错误（常见原因：缺少冒号或空格、括号或引号未闭合、缩进不一致）",
                               f"project file {p} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise _fail(p.name, ("(顶层)", "(top level)"), ("映射（键: 值）", "a mapping"), type(data).__name__)
    return data


def parse_project(data: dict[str, Any], tpl: Template, source: str = "project") -> Project:
    """Validate a project mapping against the template it will be issued with."""
    for k in data:
        if k not in _TOP:
            raise _fail(source, k, (f"以下之一（未知的键）：{'、'.join(sorted(_TOP))}", f"one of {sorted(_TOP)} (unknown key)"))
    pr = Project(template=data.get("template"), source=source)

    hdr = data.get("project") or {}
    if not isinstance(hdr, dict):
        raise _fail(source, "project", ("含 name/department/unit/year 的映射", "a mapping with name/department/unit/year"))
    for k, v in hdr.items():
        if k not in ("name", "department", "unit", "year"):
            raise _fail(source, f"project.{k}", ("name、department、unit、year 之一", "one of name, department, unit, year"))
        pr.header[k] = v if k == "year" else str(v)
    if "year" in pr.header:
        y = pr.header["year"]
        if isinstance(y, bool) or not isinstance(y, int) or not 1990 <= y <= 2100:
            raise _fail(source, "project.year", ("如 2024 的年份", "a year such as 2024"), y)

    goal = data.get("goal") or {}
    if isinstance(goal, str):
        goal = {"expected": goal}
    if not isinstance(goal, dict):
        raise _fail(source, "goal", ("文字或 {expected, actual}", "text or {expected, actual}"))
    pr.goal_expected, pr.goal_actual = goal.get("expected"), goal.get("actual")

    col_ids = [c.id for c in tpl.funds_columns]
    pr.issued_funds = tuple(c.id for c in tpl.funds_columns if c.issued)
    funds = data.get("funds") or {}
    if not isinstance(funds, dict):
        raise _fail(source, "funds", ("含 total 和 items 的映射", "a mapping with total and items"))
    for k in funds:
        if k not in ("total", "items"):
            raise _fail(source, f"funds.{k}", ("total 或 items", "total or items"))
    for k, v in (funds.get("total") or {}).items():
        if k not in col_ids:
            raise _fail(source, f"funds.total.{k}", (f"模板的资金列之一 {col_ids}", f"one of the template's funds columns {col_ids}"))
        pr.funds_total[k] = _number(v, source, f"funds.total.{k}")
    items = funds.get("items") or []
    if len(items) > tpl.funds_item_rows:
        raise _fail(source, "funds.items", (f"不超过 {tpl.funds_item_rows} 项（模板 {tpl.id}）", f"at most {tpl.funds_item_rows} items (template {tpl.id})"), len(items))
    for i, it in enumerate(items):
        if not isinstance(it, dict):
            raise _fail(source, (f"funds.items 第 {i + 1} 项", f"funds.items[{i}]"), ("映射", "a mapping"))
        row: dict[str, Any] = {}
        for k, v in it.items():
            if k == "label":
                row["label"] = str(v)
            elif k in col_ids:
                row[k] = _number(v, source, f"funds.items[{i}].{k}")
            else:
                raise _fail(source, (f"funds.items 第 {i + 1} 项的 {k}", f"funds.items[{i}].{k}"), (f"label 或 {col_ids} 之一", f"label or one of {col_ids}"))
        pr.funds_items.append(row)

    level_names = [lv.name for lv in tpl.levels]
    rows = [
        {"level": d.level, "category": d.category, "name": d.name, "op": d.op, "target": d.target, "unit": d.unit,
         "weight": d.weight, "note": d.note}
        for d in tpl.indicators
    ]
    mode = data.get("default_indicators", "keep")
    if mode not in ("keep", "replace"):
        raise _fail(source, "default_indicators", ("keep 或 replace", "keep or replace"), mode)
    if mode == "replace":
        rows = []
    for i, ind in enumerate(data.get("indicators") or []):
        key = (f"indicators 第 {i + 1} 项", f"indicators item {i + 1}")
        if not isinstance(ind, dict):
            raise _fail(source, key, ("映射", "a mapping"))
        if ind.get("name"):
            key = (f"{key[0]}（{ind['name']}）", f"{key[1]} ({ind['name']})")
        for k in ind:
            if k not in ISSUED_INDICATOR_KEYS + FILL_INDICATOR_KEYS:
                raise _fail(source, _sub(key, k), (f"以下之一（未知的键）：{'、'.join(ISSUED_INDICATOR_KEYS + FILL_INDICATOR_KEYS)}", f"one of {list(ISSUED_INDICATOR_KEYS + FILL_INDICATOR_KEYS)}"))
        if "name" not in ind:
            raise _fail(source, _sub(key, "name"), ("必填", "present"))
        existing = next((r for r in rows if r["name"] == ind["name"] and "op" not in ind), None)
        if existing is not None:  # fill values (or overrides) for a template default row
            existing.update(ind)
            continue
        for k in ("level", "op", "weight"):
            if k not in ind:
                raise _fail(source, _sub(key, k), ("必填", "present"))
        if ind["level"] not in level_names:
            raise _fail(source, _sub(key, "level"), (f"以下之一：{'、'.join(level_names)}", f"one of {level_names}"), ind["level"])
        if ind["op"] not in tpl.operators:
            raise _fail(source, _sub(key, "op"), (f"以下之一：{'、'.join(tpl.operators)}", f"one of {list(tpl.operators)}"), ind["op"])
        lv = tpl.level(ind["level"])
        if lv and ind.get("category") and ind["category"] not in lv.categories:
            raise _fail(source, _sub(key, "category"), (f"一级指标“{lv.name}”的二级指标之一：{'、'.join(lv.categories)}", f"one of {list(lv.categories)}"), ind["category"])
        _number(ind["weight"], source, _sub(key, "weight"), allow_none=False)
        t = ind.get("target")
        if ind["op"] not in ("定性", "评分") and not isinstance(t, (int, float, dt.date)):
            raise _fail(source, _sub(key, "target"), ("数字或日期（定量指标）", "a number or a date for a quantitative operator"), t)
        rows.append(dict(ind))
    if len(rows) > tpl.indicator_rows:
        raise _fail(source, "indicators", (f"不超过 {tpl.indicator_rows} 行（模板 {tpl.id}）", f"at most {tpl.indicator_rows} rows (template {tpl.id})"), len(rows))
    for r in rows:
        if "score" in r:
            _number(r["score"], source, (f"指标“{r['name']}”的 score", f"indicators[{r['name']}].score"))
    pr.indicators = rows

    rates = data.get("rates") or {}
    rate_ids = [r.id for r in tpl.rates]
    for k, v in rates.items():
        if k not in rate_ids:
            raise _fail(source, f"rates.{k}", (f"以下之一：{'、'.join(rate_ids)}", f"one of {rate_ids}"))
        pr.rates[k] = str((v or {}).get("explain", "")) if isinstance(v, dict) else str(v)
    sign = data.get("sign") or {}
    for k in sign:
        if k not in ("lead", "finance", "date"):
            raise _fail(source, f"sign.{k}", ("lead、finance 或 date", "lead, finance or date"))
    pr.sign = dict(sign)
    pr.level_weights = _level_weights(data.get("levels"), tpl, rows, source)
    from .office import office_details

    pr.office = office_details(None, base=data.get("office"), source=source)
    return pr


def _level_weights(given: Any, tpl: Template, rows: list[dict[str, Any]], source: str) -> dict[str, float]:
    """Projects may adjust first-level weights as long as they still add up to 100 (domain §2a)."""
    if not given:
        return {}
    if not isinstance(given, dict):
        raise _fail(source, "levels", ("一级指标名称到权重的映射，如 {产出指标: 60}", "a mapping of level name to weight, e.g. {产出指标: 60}"))
    names = [lv.name for lv in tpl.levels]
    out: dict[str, float] = {}
    for k, v in given.items():
        if k not in names:
            raise _fail(source, f"levels.{k}", (f"以下之一：{'、'.join(names)}", f"one of {names}"))
        out[k] = float(_number(v, source, f"levels.{k}", allow_none=False))
        if out[k] < 0:
            raise _fail(source, f"levels.{k}", ("不小于 0 的权重", "a weight ≥ 0"), v)
        fixed = sum(r.weight for r in tpl.rates if r.level == k)
        if out[k] < fixed:
            raise _fail(source, f"levels.{k}", (f"不小于其中资金计分的分值（{fixed:g}）", f"at least the funds rates scored in it ({fixed:g})"), v)
    total = sum(out.get(lv.name, lv.weight) for lv in tpl.levels)
    if abs(total - 100) > 1e-9:
        raise _fail(source, "levels", ("与模板其他一级指标合计为 100 的权重", "weights adding up to 100 with the template's other levels"), total)
    return out


def strip_fill(pr: Project) -> Project:
    """The issued part only: what the finance office sends out (actuals and scores removed)."""
    rows = [{k: v for k, v in r.items() if k in ISSUED_INDICATOR_KEYS} for r in pr.indicators]
    keep = set(pr.issued_funds) | {"label"}  # arrived/spent/执行数 are the unit's, even when the file has them
    out = Project(template=pr.template, header=dict(pr.header), goal_expected=pr.goal_expected, level_weights=dict(pr.level_weights),
                  funds_total={k: v for k, v in pr.funds_total.items() if k in keep},
                  funds_items=[{k: v for k, v in i.items() if k in keep} for i in pr.funds_items], indicators=rows,
                  source=pr.source, issued_funds=pr.issued_funds, issued_only=True, office=dict(pr.office))
    return out
