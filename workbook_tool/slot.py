"""A slot: one named cell (or column of the indicator table) of a layout, and the kinds of slot.

Its own module so that the layout and the 自评表 (form_sheet), which adds its slots to the layout,
both build on it without importing each other.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .expr import Expr

ISSUED, INPUT, FORMULA, CONST = "issued", "input", "formula", "const"


@dataclass
class Slot:
    key: str
    sheet: str
    col: int
    row: int | None  # None: a column of the indicator table
    kind: str
    header: str = ""
    expr: Expr | None = None
    fmt: str = ""
    width: float = 12
    value: Any = None  # for constants
    validate: str = ""  # name of a validation rule (writer)

    @property
    def is_column(self) -> bool:
        return self.row is None
