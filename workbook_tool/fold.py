"""Order a return's findings by sheet and row, and fold follow-on findings under their cause.

Why: in a typical faulty return 8 of 20 errors were "须填写偏差原因" on rows whose actual was invalid in
the first place, and an empty return gave 41 findings for one fact ("it was never filled in"). The
reader needs the cause; the follow-ons are kept (JSON marks them ``folded_under``) but not repeated
in the text report, the annotated copy or the summary's problem list.

Pure functions over :class:`~workbook_tool.checker.FileReport`: the checker's findings are never
changed, so every renderer folds the same way.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .findings import INFO, Finding

# Per-run notices: the same for every file of a run (no key given; which program saved the files).
RUN_NOTICES = ("I001", "I002")
# A cell that holds no usable actual / grade / score: the row's "explanation missing" follows from it.
INPUT_CAUSES = ("V001", "V002", "V007", "V008", "V009", "V010", "V018", "V022", "V023", "V026", "V004", "V006")
FOLLOW_ONS = ("V013",)
# Under "never filled in" (V040) every input finding and the missing recalculation are follow-ons.
UNFILLED = "V040"

_CELL = re.compile(r"^\$?([A-Z]{1,3})\$?(\d+)$")


@dataclass
class Item:
    """One finding in display order; ``folded`` are the indexes (into the report's list) of its follow-ons."""

    index: int
    finding: Finding
    cause: int | None = None
    folded: list[int] = field(default_factory=list)


def cell_pos(cell: str | None) -> tuple[int, int]:
    """(row, column) of an A1 reference, for ordering; (0, 0) when there is none."""
    m = _CELL.match(cell or "")
    if not m:
        return (0, 0)
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    return (int(m.group(2)), col)


def sort_key(f: Finding, sheet_order: list[str]) -> tuple[Any, ...]:
    """File-level findings first, then by sheet (as in the workbook), row, column, code."""
    if not f.sheet:
        return (0, 0, 0, 0, f.code)
    s = sheet_order.index(f.sheet) if f.sheet in sheet_order else len(sheet_order)
    row, col = cell_pos(f.cell)
    return (1, s, row, col, f.code)


def fold(findings: list[Finding], sheet_order: list[str] | None = None) -> list[Item]:
    """All findings in display order, each follow-on marked with the index of its cause."""
    order = sheet_order or []
    items = [Item(i, f) for i, f in enumerate(findings)]
    unfilled = next((it for it in items if it.finding.code == UNFILLED), None)
    causes: dict[tuple[int, str], Item] = {}
    for it in items:
        f = it.finding
        if f.code in INPUT_CAUSES and f.indicator and f.cell:
            causes.setdefault((cell_pos(f.cell)[0], f.indicator), it)
    for it in items:
        f = it.finding
        if unfilled is not None and it is not unfilled and (f.code.startswith("V") or f.code == "X002"):
            it.cause = unfilled.index
        elif f.code in FOLLOW_ONS and f.indicator and f.cell:
            c = causes.get((cell_pos(f.cell)[0], f.indicator))
            if c is not None and c is not it:
                it.cause = c.index
        if it.cause is not None:
            items[it.cause].folded.append(it.index)
    return sorted(items, key=lambda it: sort_key(it.finding, order))


def leading(findings: list[Finding], sheet_order: list[str] | None = None, notices: bool = False) -> list[Item]:
    """The findings a person should read: causes, not follow-ons; run notices only if ``notices``."""
    return [it for it in fold(findings, sheet_order) if it.cause is None
            and (notices or it.finding.code not in RUN_NOTICES)]


def is_notice(f: Finding) -> bool:
    return f.severity == INFO and f.code in RUN_NOTICES
