"""The Python engine's plan: rows with the same inputs are computed once, and only those.

``engine.evaluate`` shares one computation between rows whose inputs are the same (the blank rows
below the indicators: most of a large template). Same means same type too: 1, 1.0, TRUE and "1"
hash alike or nearly, and score differently. Each row here is compared with its formulas walked
one by one from that row's inputs alone.
"""
from __future__ import annotations

import math

from workbook_tool.engine import evaluate
from workbook_tool.layout import FORMULA, build_layout, evaluation_order
from workbook_tool.template import load_template


def _alone(L, inputs, r):
    """Row ``r``'s formula values, computed without the engine's plan or any sharing."""
    col_formulas, _ = evaluation_order(L)
    env = {s.key: inputs.get((s.key, r)) for s in L.columns() if s.kind != FORMULA}
    for s in col_formulas:
        env[s.key] = s.expr.eval(env)
    return {s.key: env[s.key] for s in col_formulas}


def _same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    return (a.__class__, a) == (b.__class__, b)


def test_rows_share_a_computation_only_when_their_inputs_are_the_same_values_of_the_same_types():
    L = build_layout(load_template("dept-eval"))
    rows = list(L.rows())
    issued = {"level": "产出指标", "category": "数量指标", "name": "培训人数", "op": "≥", "target": 40.0, "unit": "人", "weight": 10.0}
    actuals = [50.0, True, "50", 50, 50.0, None, "", 1.0, True, 0.0, -0.0]  # 1.0 and TRUE, 50 and "50", 0.0 and -0.0 must not share
    inputs = {}
    for r, actual in zip(rows, actuals):
        for k, v in issued.items():
            inputs[(k, r)] = v
        inputs[("actual", r)] = actual
    inputs[("target", rows[7])] = 1.0  # so that 1.0 and TRUE meet the same target
    inputs[("target", rows[8])] = 1.0
    out = evaluate(L, inputs)
    for r in rows:  # the filled rows and the blank ones below them
        for k, v in _alone(L, inputs, r).items():
            assert _same(out[(k, r)], v), (r, k, out[(k, r)], v)
    score = {r: out[("score", r)] for r in rows[:9]}
    assert score[rows[0]] == score[rows[3]] == score[rows[4]] == 10  # 50 and 50.0 are the same number
    assert score[rows[1]] != score[rows[0]] and score[rows[2]] != score[rows[0]]  # TRUE and "50" are not
    assert score[rows[7]] == 10 and score[rows[8]] != 10


def test_a_layout_pickles_and_evaluates_the_same_after():
    """Closures do not pickle: a layout (and its expressions) travel without their memo and rebuild it."""
    import pickle

    L = build_layout(load_template("self-eval"))
    r = list(L.rows())[0]
    inputs = {("op", r): "≥", ("target", r): 40.0, ("unit", r): "人", ("weight", r): 10.0, ("actual", r): 30.0}
    before = evaluate(L, inputs)  # (compiles every expression and fills the memo)
    again = evaluate(pickle.loads(pickle.dumps(L)), inputs)
    assert before.keys() == again.keys()
    assert all(_same(before[k], again[k]) for k in before)
