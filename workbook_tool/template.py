"""Templates (rule-set profiles): every number that varies by province lives here, not in code.

A template is a YAML file. It is validated strictly when loaded: an unknown key, weights that do
not add up, or bands that overlap are refused with a message naming the file, the key and what was
expected, because a silently wrong profile would mis-score every workbook made from it.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .errors import TemplateError

#: Operators and the rule each selects. Fixed by the domain (财预〔2020〕10号), not by province.
OPERATOR_RULES = {
    "≥": "positive", "＞": "positive", "=": "equal", "≤": "reverse", "＜": "reverse",
    "定性": "qualitative", "评分": "manual",
}
DATE_UNIT_DEFAULT = "日期"
#: libyaml's safe loader when PyYAML was built with it (several times faster), else the pure-Python one
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Level:
    name: str
    weight: float
    categories: tuple[str, ...]
    en: str = ""


@dataclass(frozen=True)
class FundsColumn:
    id: str
    label: str
    en: str
    issued: bool


@dataclass(frozen=True)
class Rate:
    """A score computed from the funds block, e.g. 预算执行率 = 全年执行数 / 全年预算数."""

    id: str
    label: str
    en: str
    numerator: str
    denominator: str
    level: str
    weight: float
    explain_below: float | None


@dataclass(frozen=True)
class Grade:
    name: str
    short: str
    min: float  # fraction of 分值, inclusive
    max: float  # fraction of 分值, exclusive unless 1.0


@dataclass(frozen=True)
class Band:
    grade: str
    min: float  # inclusive lower bound on the (rounded) total


@dataclass(frozen=True)
class DefaultIndicator:
    level: str
    category: str
    name: str
    op: str
    target: Any
    unit: str
    weight: float
    note: str


@dataclass(frozen=True)
class Template:
    id: str
    version: str
    name: str
    description: str
    basis: str
    indicator_rows: int
    rounding: int
    levels: tuple[Level, ...]
    funds_unit: str
    funds_columns: tuple[FundsColumn, ...]
    funds_total_label: str
    funds_items: tuple[str, ...]  # fixed item labels; empty → editable labels
    funds_item_rows: int
    rates: tuple[Rate, ...]
    reverse: str
    overshoot: float
    not_applicable: bool
    grades: tuple[Grade, ...]
    rating: tuple[Band, ...]
    operators: tuple[str, ...]
    units: tuple[str, ...]
    date_unit: str
    indicators: tuple[DefaultIndicator, ...] = field(default=())
    # may a unit declare an *issued* indicator 不适用? No by default (domain.md §3): dropping a target
    # raises the score, and that is the office's decision; an office may allow it in its template
    issued_not_applicable: bool = False
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("source", None)
        return d

    def digest(self) -> str:
        """The rule-set's digest (memoised: a template is frozen, and check asks for it per file)."""
        d = self.__dict__.get("_digest")
        if d is None:
            d = ruleset_digest(self.to_dict())
            object.__setattr__(self, "_digest", d)
        return d

    def level(self, name: str) -> Level | None:
        return next((lv for lv in self.levels if lv.name == name), None)

    def indicator_levels(self) -> list[Level]:
        """Levels that take indicator rows (those with second-level categories)."""
        return [lv for lv in self.levels if lv.categories]


def ruleset_digest(ruleset: Any) -> str:
    """Digest of a rule-set as stored in a workbook's metadata (JSON), comparable with Template.digest()."""
    return hashlib.sha256(json.dumps(ruleset, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# loading and validation

_TOP_KEYS = {
    "id", "version", "name", "description", "basis", "indicator_rows", "rounding", "levels", "funds",
    "scoring", "rating", "operators", "units", "date_unit", "indicators",
}


class _V:
    """Collects the context (file, key path) for a precise error message."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, key: str, expected: str, got: Any = None) -> TemplateError:
        got_s = "" if got is None else f"（实际为 {got!r}）"
        got_e = "" if got is None else f" (got {got!r})"
        return TemplateError(
            "T001",
            f"模板 {self.source} 无效：{key} 应为 {expected}{got_s}",
            f"template {self.source} is invalid: {key} must be {expected}{got_e}",
        )

    def keys(self, d: Any, allowed: set[str], where: str, required: set[str] = frozenset()) -> dict:
        if not isinstance(d, dict):
            raise self.fail(where or "(top level)", "a mapping / 映射", type(d).__name__)
        for k in d:
            if k not in allowed:
                raise self.fail(f"{where + '.' if where else ''}{k}", f"one of {sorted(allowed)} (unknown key 未知键)")
        for k in required:
            if k not in d:
                raise self.fail(f"{where + '.' if where else ''}{k}", "present / 必填")
        return d

    def num(self, v: Any, key: str, lo: float | None = None, hi: float | None = None) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise self.fail(key, "a number / 数字", v)
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise self.fail(key, f"a number in [{lo}, {hi}]", v)
        return float(v)

    def text(self, v: Any, key: str, allow_empty: bool = False) -> str:
        if not isinstance(v, str) or (not allow_empty and not v.strip()):
            raise self.fail(key, "text / 文本", v)
        return v.strip()

    def texts(self, v: Any, key: str) -> tuple[str, ...]:
        if not isinstance(v, list):
            raise self.fail(key, "a list of texts / 文本列表", v)
        out = tuple(self.text(x, f"{key}[{i}]") for i, x in enumerate(v))
        if len(set(out)) != len(out):
            raise self.fail(key, "a list without duplicates / 不得重复", v)
        return out


def _criterion_safe(v: _V, name: str, key: str) -> None:
    # level names are SUMIF criteria: wildcards or a leading comparison would change their meaning
    if any(ch in name for ch in "*?~") or name[:1] in "=<>":
        raise v.fail(key, "a name without * ? ~ and not starting with = < >", name)


def parse_template(data: Any, source: str) -> Template:
    v = _V(source)
    d = v.keys(data, _TOP_KEYS, "", {"id", "version", "name", "levels", "funds", "scoring", "rating", "units"})
    tid = v.text(d["id"], "id")
    version = str(d["version"]).strip()
    rows = int(v.num(d.get("indicator_rows", 40), "indicator_rows", 5, 500))
    rounding = int(v.num(d.get("rounding", 2), "rounding", 0, 6))

    levels = []
    if not isinstance(d["levels"], list) or not d["levels"]:
        raise v.fail("levels", "a non-empty list of levels / 一级指标列表")
    for i, lv in enumerate(d["levels"]):
        key = f"levels[{i}]"
        v.keys(lv, {"name", "weight", "categories", "en"}, key, {"name", "weight"})
        name = v.text(lv["name"], key + ".name")
        _criterion_safe(v, name, key + ".name")
        cats = v.texts(lv.get("categories", []), key + ".categories")
        levels.append(Level(name, v.num(lv["weight"], key + ".weight", 0, 100), cats, str(lv.get("en", name))))
    names = [lv.name for lv in levels]
    if len(set(names)) != len(names):
        raise v.fail("levels", "levels with distinct names / 一级指标不得重名", names)
    total = sum(lv.weight for lv in levels)
    if abs(total - 100) > 1e-9:
        raise v.fail("levels[*].weight", "weights adding up to 100 / 权重合计应为 100", total)

    f = v.keys(d["funds"], {"unit", "columns", "total_label", "items", "item_rows", "rates"}, "funds",
               {"columns", "rates"})
    cols = []
    for i, c in enumerate(f["columns"] if isinstance(f["columns"], list) else []):
        key = f"funds.columns[{i}]"
        v.keys(c, {"id", "label", "en", "issued"}, key, {"id", "label"})
        cols.append(FundsColumn(v.text(c["id"], key + ".id"), v.text(c["label"], key + ".label"),
                                str(c.get("en", c["label"])), bool(c.get("issued", False))))
    if not cols:
        raise v.fail("funds.columns", "a non-empty list of columns / 资金列")
    col_ids = [c.id for c in cols]
    if len(set(col_ids)) != len(col_ids):
        raise v.fail("funds.columns", "distinct ids", col_ids)
    items = v.texts(f.get("items", []), "funds.items")
    item_rows = int(v.num(f.get("item_rows", max(len(items), 1)), "funds.item_rows", 1, 50))
    if len(items) > item_rows:
        raise v.fail("funds.item_rows", f"at least the number of items ({len(items)})", item_rows)
    rates = []
    for i, r in enumerate(f["rates"] if isinstance(f["rates"], list) else []):
        key = f"funds.rates[{i}]"
        v.keys(r, {"id", "label", "en", "numerator", "denominator", "level", "weight", "explain_below"}, key,
               {"id", "label", "numerator", "denominator", "level", "weight"})
        for k in ("numerator", "denominator"):
            if r[k] not in col_ids:
                raise v.fail(f"{key}.{k}", f"one of the funds column ids {col_ids}", r[k])
        if r["level"] not in names:
            raise v.fail(f"{key}.level", f"one of the levels {names}", r["level"])
        eb = r.get("explain_below")
        rates.append(Rate(v.text(r["id"], key + ".id"), v.text(r["label"], key + ".label"),
                          str(r.get("en", r["label"])), r["numerator"], r["denominator"], r["level"],
                          v.num(r["weight"], key + ".weight", 0, 100),
                          None if eb is None else v.num(eb, key + ".explain_below", 0, 1)))

    s = v.keys(d["scoring"], {"reverse", "overshoot", "not_applicable", "issued_not_applicable", "qualitative_grades"},
               "scoring", {"qualitative_grades"})
    reverse = s.get("reverse", "ratio")
    if reverse not in ("ratio", "linear"):
        raise v.fail("scoring.reverse", "ratio or linear", reverse)
    overshoot = v.num(s.get("overshoot", 1.2), "scoring.overshoot", 1, 100)
    na = s.get("not_applicable", True)
    if not isinstance(na, bool):
        raise v.fail("scoring.not_applicable", "true or false", na)
    issued_na = s.get("issued_not_applicable", False)
    if not isinstance(issued_na, bool):
        raise v.fail("scoring.issued_not_applicable", "true or false", issued_na)
    grades = []
    for i, g in enumerate(s["qualitative_grades"] if isinstance(s["qualitative_grades"], list) else []):
        key = f"scoring.qualitative_grades[{i}]"
        v.keys(g, {"name", "short", "min", "max"}, key, {"name", "min", "max"})
        grades.append(Grade(v.text(g["name"], key + ".name"), str(g.get("short", g["name"])).strip(),
                            v.num(g["min"], key + ".min", 0, 1), v.num(g["max"], key + ".max", 0, 1)))
    if not grades:
        raise v.fail("scoring.qualitative_grades", "a non-empty list of grades / 定性等级")
    _check_grade_bands(v, grades)

    bands = []
    for i, b in enumerate(d["rating"] if isinstance(d["rating"], list) else []):
        key = f"rating[{i}]"
        v.keys(b, {"grade", "min"}, key, {"grade", "min"})
        bands.append(Band(v.text(b["grade"], key + ".grade"), v.num(b["min"], key + ".min", 0, 100)))
    if not bands:
        raise v.fail("rating", "a non-empty list of bands / 评级区间")
    for i in range(1, len(bands)):
        if bands[i].min >= bands[i - 1].min:
            raise v.fail(f"rating[{i}].min", f"strictly below rating[{i - 1}].min ({bands[i - 1].min}); bands overlap / 区间重叠",
                         bands[i].min)
    if bands[-1].min != 0:
        raise v.fail(f"rating[{len(bands) - 1}].min", "0 (the last band must reach 0 / 最低档下限应为 0)", bands[-1].min)

    ops = v.texts(d.get("operators", ["≥", "≤", "=", "＞", "＜", "定性"]), "operators")
    for o in ops:
        if o not in OPERATOR_RULES:
            raise v.fail("operators", f"operators from {list(OPERATOR_RULES)}", o)
    units = v.texts(d["units"], "units")
    date_unit = v.text(d.get("date_unit", DATE_UNIT_DEFAULT), "date_unit")

    defaults = []
    for i, ind in enumerate(d.get("indicators", []) or []):
        key = f"indicators[{i}]"
        v.keys(ind, {"level", "category", "name", "op", "target", "unit", "weight", "note"}, key,
               {"level", "name", "op", "weight"})
        if ind["level"] not in names:
            raise v.fail(key + ".level", f"one of {names}", ind["level"])
        if ind["op"] not in ops:
            raise v.fail(key + ".op", f"one of {list(ops)}", ind["op"])
        defaults.append(DefaultIndicator(ind["level"], str(ind.get("category", "")), v.text(ind["name"], key + ".name"),
                                         ind["op"], ind.get("target"), str(ind.get("unit", "") or ""),
                                         v.num(ind["weight"], key + ".weight", 0, 100), str(ind.get("note", "") or "").strip()))
    if len(defaults) > rows:
        raise v.fail("indicator_rows", f"at least the number of default indicators ({len(defaults)})", rows)
    for lv in levels:  # default rows and rates must not exceed their level
        used = sum(x.weight for x in defaults if x.level == lv.name) + sum(r.weight for r in rates if r.level == lv.name)
        if used > lv.weight + 1e-9:
            raise v.fail(f"levels[{lv.name}].weight", f"at least the weights of its default indicators and rates ({used})", lv.weight)

    return Template(
        id=tid, version=version, name=v.text(d["name"], "name"), description=str(d.get("description", "")).strip(),
        basis=str(d.get("basis", "")).strip(), indicator_rows=rows, rounding=rounding, levels=tuple(levels),
        funds_unit=str(f.get("unit", "万元")), funds_columns=tuple(cols),
        funds_total_label=str(f.get("total_label", "合计")), funds_items=items, funds_item_rows=item_rows,
        rates=tuple(rates), reverse=reverse, overshoot=overshoot, not_applicable=na, grades=tuple(grades),
        rating=tuple(bands), operators=ops, units=units, date_unit=date_unit, indicators=tuple(defaults),
        issued_not_applicable=issued_na, source=source,
    )


def _check_grade_bands(v: _V, grades: list[Grade]) -> None:
    """Grade bands must tile [0, 1] without gaps or overlaps, so every score has exactly one grade."""
    spans = sorted((g.min, g.max, g.name) for g in grades)
    for lo, hi, name in spans:
        if lo >= hi:
            raise v.fail(f"scoring.qualitative_grades[{name}]", "min below max", (lo, hi))
    if spans[0][0] != 0 or spans[-1][1] != 1:
        raise v.fail("scoring.qualitative_grades", "bands covering 0 to 1 / 区间应覆盖 0–100%", [(a, b) for a, b, _ in spans])
    for (_, hi1, n1), (lo2, _, n2) in zip(spans, spans[1:]):
        if abs(hi1 - lo2) > 1e-12:
            raise v.fail(f"scoring.qualitative_grades[{n2}].min",
                         f"equal to the max of {n1} ({hi1}); bands overlap or leave a gap / 区间重叠或有空档", lo2)


def builtin_dir() -> Path:
    """Installed: the package carries templates/ as workbook_tool/templates; in a checkout, the top level."""
    packaged = Path(str(resources.files("workbook_tool"))) / "templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "templates"


def builtin_templates() -> dict[str, Path]:
    d = builtin_dir()
    return {p.stem: p for p in sorted(d.glob("*.yaml"))}


def load_template(ref: str | Path) -> Template:
    """Load a built-in template by id, or a YAML file by path."""
    p = Path(ref)
    builtins = builtin_templates()
    if str(ref) in builtins and not p.exists():
        p = builtins[str(ref)]
    elif not p.exists():
        raise TemplateError("T002", f"找不到模板 {ref}：内置模板有 {', '.join(builtins)}，或给出 YAML 文件路径",
                            f"template {ref} not found: built-in templates are {', '.join(builtins)}, or give a YAML file path")
    try:
        data = yaml.load(p.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except (OSError, UnicodeDecodeError) as e:
        raise TemplateError("T003", f"无法读取模板 {p}：{e}", f"cannot read template {p}: {e}") from None
    except yaml.YAMLError as e:
        raise TemplateError("T003", f"模板 {p} 不是有效的 YAML：{e}", f"template {p} is not valid YAML: {e}") from None
    return parse_template(data, p.name)
