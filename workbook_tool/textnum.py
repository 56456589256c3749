"""Numbers, operators and dates written as text: one reader for `check` and for issuing.

Units type "不少于40", "≥85%", "800余册" into number cells; budget systems export targets as
"≥800本", "≤90万元", "2024年10月31日前"; office rosters hold "2024年" and "12.5万元". All three are
the same reading problem, so one module reads them: `check` uses it to *suggest* a fix for a
return, issuing uses it to *take* a target — and lists every reading that is not certain
(approximations, a missing or conflicting operator or unit, a month without a day) instead of
guessing, because a wrong target is locked into every workbook issued with it.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

#: operator spellings seen in returns and exports → the form's operator
LOOKALIKE = {"﹦": "=", "＝": "=", "==": "=", "≧": "≥", ">=": "≥", "=>": "≥", ">": "＞", "≦": "≤", "<=": "≤", "=<": "≤",
             "<": "＜", "≥=": "≥", "大于等于": "≥", "小于等于": "≤", "等于": "="}
NUM_IN_TEXT = re.compile(r"^\s*(不少于|不低于|至少|不超过|不高于|最多|大于等于|小于等于|约|大约|≥|≤|>=|<=|＞|＜|>|<|=)?\s*"
                         r"([-+]?\d+(?:\.\d+)?)\s*(余|多|左右)?\s*([^\d\s]*)\s*$")
HINT_OPS = {"不少于": "≥", "不低于": "≥", "至少": "≥", "大于等于": "≥", ">=": "≥", "≥": "≥", "不超过": "≤", "不高于": "≤",
            "最多": "≤", "小于等于": "≤", "<=": "≤", "≤": "≤", "＞": "＞", ">": "＞", "＜": "＜", "<": "＜", "=": "="}
_APPROX_PREFIX = ("约", "大约")
#: unit spellings that mean the same unit
UNIT_SAME = {"％": "%", "百分比": "%", "百分之": "%"}
_SUFFIX_OPS = (("及以上", "≥"), ("以上", "≥"), ("及以下", "≤"), ("以下", "≤"), ("以内", "≤"))
_DATE = re.compile(r"^\s*(\d{4})\s*(?:年|-|/|\.)\s*(\d{1,2})\s*(?:月|-|/|\.)\s*(\d{1,2})\s*日?\s*(之前|以前|前)?\s*$")
_MONTH_ONLY = re.compile(r"^\s*(\d{4})\s*年\s*(\d{1,2}\s*月|底|年底|末|上半年|下半年)")


def parse_number_text(text: str) -> tuple[float | None, str | None, str]:
    """Read the intent of "不少于40", "≥85%", "800余册", "4万元"; returns (number, operator, unit)."""
    t = unicodedata.normalize("NFKC", text).replace(",", "")
    m = NUM_IN_TEXT.match(t)
    if not m:
        return None, None, ""
    prefix, num, _approx, unit = m.groups()
    return float(num), HINT_OPS.get(prefix or ""), unit or ""


def number_with_unit(v: Any) -> tuple[float | None, str]:
    """A roster number: 12.5, "12.5", "1,234.5", "12.5万元", "2024年" → (number, unit written after it).

    (None, "") when the value holds no plain number; approximations ("约12", "12余") are not plain.
    """
    if isinstance(v, bool):
        return None, ""
    if isinstance(v, (int, float)):
        return float(v), ""
    t = unicodedata.normalize("NFKC", str(v)).replace(",", "").strip()
    m = NUM_IN_TEXT.match(t)
    if not m or m.group(1) or m.group(3):
        return None, ""
    return float(m.group(2)), m.group(4) or ""


def normalise_op(op: Any) -> str:
    """The form's operator for an exported spelling (">=" → "≥", "﹦" → "="); '' when blank."""
    s = unicodedata.normalize("NFKC", str(op or "")).strip()
    raw = str(op or "").strip()
    return LOOKALIKE.get(raw) or LOOKALIKE.get(s) or raw


def same_unit(a: str, b: str) -> bool:
    a2, b2 = (UNIT_SAME.get(x, x) for x in (unicodedata.normalize("NFKC", a or "").strip(),
                                             unicodedata.normalize("NFKC", b or "").strip()))
    return a2 == b2


@dataclass
class Target:
    """An indicator's target read from a 指标值 cell (and the 指标性质 / 计量单位 beside it)."""

    op: str = ""
    value: Any = None
    unit: str = ""
    #: (zh, en) reasons the reading is not certain; issuing refuses the row while any are listed
    doubts: list[tuple[str, str]] = field(default_factory=list)


QUANT_OPS = ("≥", "≤", "=", "＞", "＜")


def parse_target(value: Any, op: Any = None, unit: Any = None, date_unit: str = "日期") -> Target:
    """Operator, value and unit of a target as an office's spreadsheet writes it.

    ``value`` is the 指标值 cell ("≥800本", "=100%", "2024年10月31日前", "有效提高", 800, a date);
    ``op`` and ``unit`` are the 指标性质 and 计量单位 cells when the sheet has them ("定性" and
    "定量" are accepted there). What the cells say twice must agree; what they leave open is a doubt.
    """
    op_col = normalise_op(op)
    if op_col in ("定性指标",):
        op_col = "定性"
    if op_col in ("定量", "定量指标"):
        op_col = ""
    unit_col = unicodedata.normalize("NFKC", str(unit or "")).strip()
    unit_col = UNIT_SAME.get(unit_col, unit_col)
    t = Target(op=op_col, unit=unit_col)
    doubt = t.doubts.append

    if op_col in ("定性", "评分"):
        t.value = None if value in (None, "") else (value if isinstance(value, str) else str(value))
        if isinstance(value, (int, float, dt.date)) and not isinstance(value, bool):
            doubt((f"指标性质为“{op_col}”，指标值却是数字或日期 {value!r}：定性指标的指标值应为文字",
                   f"operator '{op_col}' but the target is a number or date {value!r}: a qualitative target is text"))
        return t
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return _date_target(t, value, date_unit)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        t.value = value
        if not op_col:
            doubt(("缺少指标性质（≥、≤、= 还是定性？）", "no operator (≥, ≤, = or qualitative?)"))
        return t
    text = unicodedata.normalize("NFKC", str(value or "")).strip()
    if not text:
        doubt(("指标值为空", "the target is empty"))
        return t

    m = _DATE.match(text)
    if m:
        try:
            d = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            doubt((f"指标值 {value!r} 不是有效日期", f"target {value!r} is not a valid date"))
            return t
        return _date_target(t, d, date_unit)
    if _MONTH_ONLY.match(text):
        doubt((f"指标值 {value!r} 没有具体到日：请写成“2024年10月31日前”", f"target {value!r} names no day: write e.g. 2024年10月31日前"))
        return t

    suffix_op = ""
    for suf, sop in _SUFFIX_OPS:
        if text.endswith(suf):
            text, suffix_op = text[: -len(suf)].strip(), sop
            break
    m = NUM_IN_TEXT.match(text)
    if not m:
        if any(ch.isdigit() for ch in text) or op_col in QUANT_OPS:
            doubt((f"无法从指标值 {value!r} 读出一个数字：定量指标请写成“≥800本”或把运算符、数值、单位分列填写；"
                   f"定性指标请在指标性质填“定性”",
                   f"cannot read one number from the target {value!r}: write e.g. ≥800本, or mark the row 定性"))
            return t
        t.op, t.value = "定性", str(value).strip()  # "有效提高": qualitative, the text is the target
        return t
    prefix, num, approx, text_unit = m.groups()
    if approx or prefix in _APPROX_PREFIX:
        doubt((f"指标值 {value!r} 是约数：请写明确的数值", f"target {value!r} is an approximation: give an exact number"))
    text_op = HINT_OPS.get(prefix or "", "") or suffix_op
    if text_op and op_col and text_op != op_col:
        doubt((f"指标值 {value!r} 的运算符 {text_op} 与指标性质“{op_col}”不一致", f"the target {value!r} says {text_op}, the operator column says {op_col}"))
    if op_col and op_col not in QUANT_OPS:
        doubt((f"指标性质“{op_col}”无法识别", f"operator '{op_col}' not recognised"))
    t.op = op_col or text_op
    if not t.op:
        doubt((f"指标值 {value!r} 缺少运算符（≥、≤ 还是 =？）", f"the target {value!r} has no operator (≥, ≤ or =?)"))
    text_unit = UNIT_SAME.get(text_unit, text_unit)
    if text_unit and unit_col and not same_unit(text_unit, unit_col):
        doubt((f"指标值 {value!r} 的单位“{text_unit}”与计量单位“{unit_col}”不一致", f"the target {value!r} is in '{text_unit}', the unit column says '{unit_col}'"))
    t.unit = unit_col or text_unit
    n = float(num)
    t.value = int(n) if n.is_integer() else n
    return t


def _date_target(t: Target, d: dt.date, date_unit: str) -> Target:
    """A deadline: on or before the date (the only operator a date target takes)."""
    if t.op and t.op not in ("≤", "＜"):
        t.doubts.append((f"日期型指标的指标性质应为“≤”，实际为“{t.op}”", f"a deadline takes the operator ≤, found '{t.op}'"))
    if t.unit and t.unit != date_unit:
        t.doubts.append((f"日期型指标的计量单位应为“{date_unit}”，实际为“{t.unit}”", f"a deadline's unit is '{date_unit}', found '{t.unit}'"))
    t.op, t.value, t.unit = t.op or "≤", d, date_unit
    return t
