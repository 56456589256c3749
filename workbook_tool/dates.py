"""Spreadsheet serial numbers for dates (the 1900 date system, with its leap-year quirk).

Kept apart from openpyxl so that ``check`` does not import it; the arithmetic is openpyxl's
``to_excel`` (tests compare the two).
"""
from __future__ import annotations

import datetime as dt

WINDOWS_EPOCH = dt.datetime(1899, 12, 30)
_SECS_PER_DAY = 86400


def _time_to_days(v: dt.time | dt.datetime) -> float:
    return (v.hour * 3600 + v.minute * 60 + v.second + v.microsecond / 10**6) / _SECS_PER_DAY


def excel_serial(v: dt.date | dt.datetime) -> float:
    """The serial number a spreadsheet holds for a date (1900-02-29 never existed, Excel says it did)."""
    if not isinstance(v, dt.datetime):
        v = dt.datetime.combine(v, dt.time())
    days = (v - WINDOWS_EPOCH).days
    if 0 < days <= 60:
        days -= 1
    return float(days + _time_to_days(v))
