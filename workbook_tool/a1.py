"""A1 cell-address arithmetic, in one place.

The layout, the writer, the engine, the intake and the streaming reader all turn (row, column)
pairs into "B5" and back. They used to borrow it from XlsxWriter and openpyxl, which made
``check`` import both libraries just to spell addresses; this module is the house's own
vocabulary for it (0-based rows and columns, like XlsxWriter; ``cell_to_rowcol`` is 1-based,
like openpyxl's coordinate_to_tuple, because the sheet XML is).
"""
from __future__ import annotations

import functools
import re

MAX_ROW = 1_048_576
MAX_COL = 16_384


@functools.lru_cache(maxsize=4096)
def col_name(col: int) -> str:
    """0-based column index → letters (0 → A, 26 → AA)."""
    if col < 0:
        raise ValueError(f"negative column {col}")
    n = col + 1
    out = ""
    while n:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out


def col_index(letters: str) -> int:
    """Letters → 1-based column index (A → 1), as openpyxl's column_index_from_string.

    Raises ValueError for anything that is not one to three letters within XFD."""
    if not 1 <= len(letters) <= 3 or not letters.isascii() or not letters.isalpha():
        raise ValueError(f"invalid column {letters!r}")
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    if n > MAX_COL:
        raise ValueError(f"column {letters!r} beyond XFD")
    return n


def rowcol_to_cell(row: int, col: int, row_abs: bool = False, col_abs: bool = False) -> str:
    """0-based (row, col) → "B5" (with "$" where asked)."""
    return f"{'$' if col_abs else ''}{col_name(col)}{'$' if row_abs else ''}{row + 1}"


_COORD = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d+)$")


@functools.lru_cache(maxsize=65536)
def cell_to_rowcol(coord: str) -> tuple[int, int]:
    """ "B5" → (5, 2), 1-based like the sheet XML; ValueError for anything else."""
    m = _COORD.match(coord)
    if not m:
        raise ValueError(f"invalid cell reference {coord!r}")
    row = int(m.group(2))
    if not 1 <= row <= MAX_ROW:
        raise ValueError(f"row out of range in {coord!r}")
    return row, col_index(m.group(1))


_BOUND = re.compile(r"^\$?([A-Za-z]{1,3})?\$?(\d+)?$")


def range_boundaries(ref: str) -> tuple[int | None, int | None, int | None, int | None]:
    """ "A1:C5" → (min_col, min_row, max_col, max_row), 1-based; whole rows/columns leave None.

    Same contract as openpyxl.utils.cell.range_boundaries for what the house uses it on."""
    parts = ref.split(":")
    if len(parts) > 2 or not all(parts):
        raise ValueError(f"invalid range {ref!r}")
    bounds: list[tuple[int | None, int | None]] = []
    for p in parts:
        m = _BOUND.match(p)
        if not m or not (m.group(1) or m.group(2)):
            raise ValueError(f"invalid range {ref!r}")
        c = col_index(m.group(1)) if m.group(1) else None
        r = int(m.group(2)) if m.group(2) else None
        bounds.append((c, r))
    (c1, r1), (c2, r2) = bounds[0], bounds[-1]
    if len(parts) == 1 and (c1 is None or r1 is None):
        raise ValueError(f"invalid range {ref!r}")
    return c1, r1, c2, r2
