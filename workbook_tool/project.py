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


def _fail(source: str, key: str, expected: str, got: Any = None) -> ProjectFileError:
    g_zh = "" if got is None else f"（实际为 {got!r}）"
    g_en = "" if got is None else f" (got {got!r})"
    return ProjectFileError("P001", f"项目文件 {source} 无效：{key} 应为 {expected}{g_zh}",
                            f"project file {source} is invalid: {key} must be {expected}{g_en}")


def _number(v: Any, source: str, key: str, allow_none: bool = True) -> Any:
    if v is None and allow_none:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _fail(source, key, "a number / 数字", v)
    return v


def load_project_file(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProjectFileError("P002", f"找不到项目文件 {p}", f"project file {p} not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ProjectFileError("P002", f"无法读取项目文件 {p}：{e}", f"cannot read project file {p}: {e}") from None
    except yaml.YAMLError as e:
        raise ProjectFileError("P003", f"项目文件 {p} 不是有效的 YAML：{e}", f"project file {p} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise _fail(p.name, "(top level)", "a mapping / 映射", type(data).__name__)
    return data


def parse_project(data: dict[str, Any], tpl: Template, source: str = "project") -> Project:
    """Validate a project mapping against the template it will be issued with."""
    for k in data:
        if k not in _TOP:
            raise _fail(source, k, f"one of {sorted(_TOP)} (unknown key 未知键)")
    pr = Project(template=data.get("template"), source=source)

    hdr = data.get("project") or {}
    if not isinstance(hdr, dict):
        raise _fail(source, "project", "a mapping with name/department/unit/year")
    for k, v in hdr.items():
        if k not in ("name", "department", "unit", "year"):
            raise _fail(source, f"project.{k}", "one of name, department, unit, year")
        pr.header[k] = v if k == "year" else str(v)
    if "year" in pr.header:
        y = pr.header["year"]
        if isinstance(y, bool) or not isinstance(y, int) or not 1990 <= y <= 2100:
            raise _fail(source, "project.year", "a year such as 2024", y)

    goal = data.get("goal") or {}
    if isinstance(goal, str):
        goal = {"expected": goal}
    if not isinstance(goal, dict):
        raise _fail(source, "goal", "text or {expected, actual}")
    pr.goal_expected, pr.goal_actual = goal.get("expected"), goal.get("actual")

    col_ids = [c.id for c in tpl.funds_columns]
    pr.issued_funds = tuple(c.id for c in tpl.funds_columns if c.issued)
    funds = data.get("funds") or {}
    if not isinstance(funds, dict):
        raise _fail(source, "funds", "a mapping with total and items")
    for k in funds:
        if k not in ("total", "items"):
            raise _fail(source, f"funds.{k}", "total or items")
    for k, v in (funds.get("total") or {}).items():
        if k not in col_ids:
            raise _fail(source, f"funds.total.{k}", f"one of the template's funds columns {col_ids}")
        pr.funds_total[k] = _number(v, source, f"funds.total.{k}")
    items = funds.get("items") or []
    if len(items) > tpl.funds_item_rows:
        raise _fail(source, "funds.items", f"at most {tpl.funds_item_rows} items (template {tpl.id})", len(items))
    for i, it in enumerate(items):
        if not isinstance(it, dict):
            raise _fail(source, f"funds.items[{i}]", "a mapping")
        row: dict[str, Any] = {}
        for k, v in it.items():
            if k == "label":
                row["label"] = str(v)
            elif k in col_ids:
                row[k] = _number(v, source, f"funds.items[{i}].{k}")
            else:
                raise _fail(source, f"funds.items[{i}].{k}", f"label or one of {col_ids}")
        pr.funds_items.append(row)

    level_names = [lv.name for lv in tpl.levels]
    rows = [
        {"level": d.level, "category": d.category, "name": d.name, "op": d.op, "target": d.target, "unit": d.unit,
         "weight": d.weight, "note": d.note}
        for d in tpl.indicators
    ]
    mode = data.get("default_indicators", "keep")
    if mode not in ("keep", "replace"):
        raise _fail(source, "default_indicators", "keep or replace", mode)
    if mode == "replace":
        rows = []
    for i, ind in enumerate(data.get("indicators") or []):
        key = f"indicators[{i}]"
        if not isinstance(ind, dict):
            raise _fail(source, key, "a mapping")
        for k in ind:
            if k not in ISSUED_INDICATOR_KEYS + FILL_INDICATOR_KEYS:
                raise _fail(source, f"{key}.{k}", f"one of {list(ISSUED_INDICATOR_KEYS + FILL_INDICATOR_KEYS)}")
        if "name" not in ind:
            raise _fail(source, f"{key}.name", "present / 必填")
        existing = next((r for r in rows if r["name"] == ind["name"] and "op" not in ind), None)
        if existing is not None:  # fill values (or overrides) for a template default row
            existing.update(ind)
            continue
        for k in ("level", "op", "weight"):
            if k not in ind:
                raise _fail(source, f"{key}.{k}", "present / 必填")
        if ind["level"] not in level_names:
            raise _fail(source, f"{key}.level", f"one of {level_names}", ind["level"])
        if ind["op"] not in tpl.operators:
            raise _fail(source, f"{key}.op", f"one of {list(tpl.operators)}", ind["op"])
        lv = tpl.level(ind["level"])
        if lv and ind.get("category") and ind["category"] not in lv.categories:
            raise _fail(source, f"{key}.category", f"one of {list(lv.categories)}", ind["category"])
        _number(ind["weight"], source, f"{key}.weight", allow_none=False)
        t = ind.get("target")
        if ind["op"] not in ("定性", "评分") and not isinstance(t, (int, float, dt.date)):
            raise _fail(source, f"{key}.target", "a number or a date for a quantitative operator", t)
        rows.append(dict(ind))
    if len(rows) > tpl.indicator_rows:
        raise _fail(source, "indicators", f"at most {tpl.indicator_rows} rows (template {tpl.id})", len(rows))
    for r in rows:
        if "score" in r:
            _number(r["score"], source, f"indicators[{r['name']}].score")
    pr.indicators = rows

    rates = data.get("rates") or {}
    rate_ids = [r.id for r in tpl.rates]
    for k, v in rates.items():
        if k not in rate_ids:
            raise _fail(source, f"rates.{k}", f"one of {rate_ids}")
        pr.rates[k] = str((v or {}).get("explain", "")) if isinstance(v, dict) else str(v)
    sign = data.get("sign") or {}
    for k in sign:
        if k not in ("lead", "finance", "date"):
            raise _fail(source, f"sign.{k}", "lead, finance or date")
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
        raise _fail(source, "levels", "a mapping of level name to weight, e.g. {产出指标: 60}")
    names = [lv.name for lv in tpl.levels]
    out: dict[str, float] = {}
    for k, v in given.items():
        if k not in names:
            raise _fail(source, f"levels.{k}", f"one of {names}")
        out[k] = float(_number(v, source, f"levels.{k}", allow_none=False))
        if out[k] < 0:
            raise _fail(source, f"levels.{k}", "a weight ≥ 0", v)
        fixed = sum(r.weight for r in tpl.rates if r.level == k)
        if out[k] < fixed:
            raise _fail(source, f"levels.{k}", f"at least the funds rates scored in it ({fixed:g})", v)
    total = sum(out.get(lv.name, lv.weight) for lv in tpl.levels)
    if abs(total - 100) > 1e-9:
        raise _fail(source, "levels", "weights adding up to 100 with the template's other levels / 权重合计应为 100", total)
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
