"""The office's details for one issue: 报送截止日期, 联系人, 联系电话, 报送方式 (and the project's code).

They come from the roster, the project file (``office:``) or the command line — the command line
wins over the file, the file over nothing — and end up on the 说明 sheet (so the unit knows when and
where to return the form) and in the issued metadata (so the signed record says what was asked).
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from .errors import WbtoolError

#: key → (Chinese label, English label); the order is the order on 说明
FIELDS = {
    "code": ("项目编码", "Project code"),
    "deadline": ("报送截止日期", "Return by"),
    "contact": ("联系人", "Contact"),
    "phone": ("联系电话", "Phone"),
    "return_to": ("报送方式", "Return to"),
}
_DATE = re.compile(r"^\s*(\d{4})\s*(?:年|-|/|\.)\s*(\d{1,2})\s*(?:月|-|/|\.)\s*(\d{1,2})\s*日?\s*(?:前|之前)?\s*$")


def as_date(v: Any) -> dt.date | None:
    """A deadline as a date: a date cell, "2025-03-31", "2025/3/31", "2025年3月31日(前)"; None if not one."""
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    m = _DATE.match(str(v))
    if not m:
        return None
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def as_text(v: Any) -> str:
    """Text of a cell; a phone number read as 13800138000.0 stays 13800138000."""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()


def office_details(given: dict[str, Any] | None, base: Any = None, source: str = "") -> dict[str, Any]:
    """Merge and validate office details (``given`` over ``base``); a deadline must be a date."""
    if base is not None and not isinstance(base, dict):
        raise WbtoolError("P001", f"项目文件 {source} 无效：office 应为映射（deadline、contact、phone、return_to）",
                          f"project file {source} is invalid: office must be a mapping (deadline, contact, phone, return_to)")
    merged: dict[str, Any] = {}
    for src in (base or {}, given or {}):
        for k, v in src.items():
            if k not in FIELDS:
                raise WbtoolError("P001", f"{source}：office.{k} 无法识别（可选：{'、'.join(FIELDS)}）",
                                  f"{source}: office.{k} is unknown (one of {', '.join(FIELDS)})")
            if v is not None and as_text(v) != "":
                merged[k] = v
    out: dict[str, Any] = {}
    for k, v in merged.items():
        if k == "deadline":
            d = as_date(v)
            if d is None:
                raise WbtoolError("P001", f"{source}：报送截止日期应为日期，如 2025-03-31（实际为 {v!r}）",
                                  f"{source}: the return deadline must be a date such as 2025-03-31 (got {v!r})")
            out[k] = d.isoformat()
        else:
            out[k] = as_text(v)
    return out


def guide_lines(office: dict[str, Any], lang: str) -> list[str]:
    """The 说明 sheet's lines for the office details (none when there are none)."""
    if not office:
        return []
    zh = lang != "en"
    lines = ["报送要求：" if zh else "Returning this form:"]
    for k, (lzh, len_) in FIELDS.items():
        if office.get(k):
            lines.append(f"{lzh}：{office[k]}" if zh else f"{len_}: {office[k]}")
    return lines
