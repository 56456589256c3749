"""Python re-scoring: evaluate every formula slot of a layout from input values alone.

The checker calls this with the inputs read from a returned workbook; it never looks at the
workbook's cached results, so the scores it produces are independent of what Excel/WPS computed.
"""
from __future__ import annotations

from typing import Any, Mapping

from .a1 import range_boundaries
from .layout import FORMULA, Layout, evaluation_order

Inputs = Mapping[tuple[str, int | None], Any]  # (slot key, row or None) → value as read


def evaluate(L: Layout, inputs: Inputs) -> dict[tuple[str, int | None], Any]:
    """All formula values, keyed like ``inputs``. Inputs are non-formula slots (issued/input/const)."""
    col_formulas, scalar_formulas = evaluation_order(L)
    out: dict[tuple[str, int | None], Any] = {}
    columns = L.columns()
    for r in L.rows():
        env: dict[str, Any] = {s.key: inputs.get((s.key, r)) for s in columns if s.kind != FORMULA}
        for s in col_formulas:
            env[s.key] = s.expr.eval(env)  # type: ignore[union-attr]
            out[(s.key, r)] = env[s.key]
    scalar_env: dict[str, Any] = {}
    for s in L.scalars():
        if s.kind != FORMULA:
            scalar_env[s.key] = inputs.get((s.key, None), s.value)
    for s in columns:
        src = out if s.kind == FORMULA else inputs
        scalar_env[s.key + "[]"] = [src.get((s.key, r)) for r in L.rows()]
    for name, (_sheet, _a1) in L._ranges.items():
        scalar_env[name] = _range_values(L, name, scalar_env)
    for s in scalar_formulas:
        # ranges over formula scalars (level columns) are refreshed as their members are computed
        for name in s.expr.variables():  # type: ignore[union-attr]
            if name in L._ranges:
                scalar_env[name] = _range_values(L, name, scalar_env)
        scalar_env[s.key] = s.expr.eval(scalar_env)  # type: ignore[union-attr]
        out[(s.key, None)] = scalar_env[s.key]
    return out


def _range_values(L: Layout, name: str, env: Mapping[str, Any]) -> list[Any]:
    members = range_members(L, name)
    return [env.get(k) for k in members]


def range_members(L: Layout, name: str) -> list[str]:
    """Slot keys inside a named scalar range (e.g. the funds item column, the level score column)."""
    sheet, a1 = L._ranges[name]
    c1, r1, c2, r2 = range_boundaries(a1.replace("$", ""))
    by_pos = {(s.row, s.col): s.key for s in L.scalars(sheet)}
    return [by_pos[(r - 1, c - 1)] for r in range(r1, r2 + 1) for c in range(c1, c2 + 1) if (r - 1, c - 1) in by_pos]
