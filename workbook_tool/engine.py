"""Python re-scoring: evaluate every formula slot of a layout from input values alone.

The checker calls this with the inputs read from a returned workbook; it never looks at the
workbook's cached results, so the scores it produces are independent of what Excel/WPS computed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from .a1 import range_boundaries
from .expr import Evaluator
from .layout import FORMULA, Layout, evaluation_order

Inputs = Mapping[tuple[str, int | None], Any]  # (slot key, row or None) → value as read


@dataclass(frozen=True)
class _Plan:
    """What evaluating a layout takes, worked out once per layout (it is the same for every file)."""

    row_inputs: list[str]                               # non-formula column keys
    row_key: list[str]                                  # ... those the column formulas read
    row_formulas: list[tuple[str, Evaluator]]           # column formulas, in dependency order
    scalar_inputs: list[tuple[str, Any]]                # non-formula scalar keys and their defaults
    columns: list[tuple[str, bool]]                     # every column key, and whether it is a formula
    ranges: dict[str, list[str]]                        # named scalar range → member keys
    scalar_formulas: list[tuple[str, Evaluator, list[str]]]  # key, closure, ranges to refresh first


def _plan(L: Layout) -> _Plan:
    got = L.cache.get("engine_plan")
    if got is None:
        col_formulas, scalar_formulas = evaluation_order(L)
        columns = L.columns()
        got = L.cache["engine_plan"] = _Plan(
            row_inputs=[s.key for s in columns if s.kind != FORMULA],
            row_key=[s.key for s in columns if s.kind != FORMULA
                     and any(s.key in f.expr.variables() for f in col_formulas)],  # type: ignore[union-attr]
            row_formulas=[(s.key, s.expr.compiled()) for s in col_formulas],  # type: ignore[union-attr]
            scalar_inputs=[(s.key, s.value) for s in L.scalars() if s.kind != FORMULA],
            columns=[(s.key, s.kind == FORMULA) for s in columns],
            ranges={name: range_members(L, name) for name in L._ranges},
            # ranges over formula scalars (level columns) are refreshed as their members are computed
            scalar_formulas=[(s.key, s.expr.compiled(), sorted(n for n in s.expr.variables() if n in L._ranges))  # type: ignore[union-attr]
                             for s in scalar_formulas])
    return got


def evaluate(L: Layout, inputs: Inputs) -> dict[tuple[str, int | None], Any]:
    """All formula values, keyed like ``inputs``. Inputs are non-formula slots (issued/input/const)."""
    plan = _plan(L)
    out: dict[tuple[str, int | None], Any] = {}
    rows = L.rows()
    get = inputs.get
    done: dict[tuple[Any, ...], list[Any]] = {}
    for r in rows:
        # a row's formulas read only that row's inputs: rows with the same inputs (the blank rows
        # below the indicators, most of a 500-row template) are computed once (_typed: the key)
        key = tuple([_typed(get((k, r))) for k in plan.row_key])
        values = done.get(key)
        if values is None:
            env: dict[str, Any] = {k: get((k, r)) for k in plan.row_key}
            values = done[key] = []
            for k, fn in plan.row_formulas:
                env[k] = v = fn(env)
                values.append(v)
        for (k, _fn), v in zip(plan.row_formulas, values):
            out[(k, r)] = v
    scalar_env: dict[str, Any] = {k: get((k, None), default) for k, default in plan.scalar_inputs}
    for k, is_formula in plan.columns:
        src = out if is_formula else inputs
        scalar_env[k + "[]"] = [src.get((k, r)) for r in rows]
    for name, members in plan.ranges.items():
        scalar_env[name] = [scalar_env.get(m) for m in members]
    for k, fn, refresh in plan.scalar_formulas:
        for name in refresh:
            scalar_env[name] = [scalar_env.get(m) for m in plan.ranges[name]]
        out[(k, None)] = scalar_env[k] = fn(scalar_env)
    return out


def _typed(v: Any) -> tuple[Any, ...]:
    """A row input as a memo key: its type with it (1, 1.0, TRUE and "1" score differently), and
    -0.0 apart from 0.0 (equal numbers, but a printed percentage shows the sign)."""
    if v.__class__ is float and v == 0:
        return (float, v, math.copysign(1.0, v))
    return (v.__class__, v)


def range_members(L: Layout, name: str) -> list[str]:
    """Slot keys inside a named scalar range (e.g. the funds item column, the level score column)."""
    sheet, a1 = L._ranges[name]
    c1, r1, c2, r2 = range_boundaries(a1.replace("$", ""))
    by_pos = {(s.row, s.col): s.key for s in L.scalars(sheet)}
    return [by_pos[(r - 1, c - 1)] for r in range(r1, r2 + 1) for c in range(c1, c2 + 1) if (r - 1, c - 1) in by_pos]
