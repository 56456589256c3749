"""`wbtool new`: write the formula-driven workbook with XlsxWriter.

Everything positional comes from :mod:`layout`; this module only decides how cells look and behave
in Excel/WPS (formats, validation, protection, conditional formats, print setup, metadata).
"""
from __future__ import annotations

import datetime as dt
import functools
import json
import os
import re
import tempfile
import warnings
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .a1 import col_name as xl_col_to_name
from .dates import excel_serial

from . import __version__, checks, form_sheet, metadata, signing
from .engine import evaluate
from .expr import ABS, AND, ANY_OF, Expr, Var, render
from .errors import WbtoolError
from .expr import CLASSIC_FUNCTIONS
from .labels import label
from .layout import (
    CHECK_COL, CONST, FIRST_ROW, FORMULA, HEADER_ROW, ISSUED, PROTECTED_SHEETS, SHEETS, Layout, Slot,
    formula_slots, formulas_digest, layout_for,
)
from .office import guide_lines as office_guide_lines
from .project import Project
from .record import IssuedRecord, canonical, fingerprint
from .template import Template

# zlib level of the package's parts. zlib's default (6) took 6 ms of a 35 ms `new`; level 2 takes
# 2.5 ms for a file ~18 % larger (66 → 78 KB for the seed project); the parts are the same bytes.
DEFLATE_LEVEL = 2

_BASE = {"font_name": "宋体", "font_size": 10, "valign": "vcenter", "border": 1, "border_color": "#BFBFBF"}
FILL_INPUT = "#FFF2CC"   # yellow: the unit fills these
FILL_ISSUED = "#DDEBF7"  # blue: issued by the finance office, locked
FILL_FORMULA = "#EDEDED"  # grey: computed, locked

FORMATS: dict[str, dict[str, Any]] = {
    "label": {"locked": True},
    "label_bold": {"locked": True, "bold": True},
    "header": {"locked": True, "bold": True, "bg_color": "#D9D9D9", "align": "center", "text_wrap": True},
    "title": {"locked": True, "bold": True, "font_size": 14, "border": 0},
    # not italic: Chinese forms do not use it (and italic CJK renders as a slanted fallback)
    "note": {"locked": True, "font_color": "#595959", "border": 0, "text_wrap": True},
    "text_in": {"locked": False, "bg_color": FILL_INPUT},
    "wrap_in": {"locked": False, "bg_color": FILL_INPUT, "text_wrap": True},
    "num_in": {"locked": False, "bg_color": FILL_INPUT, "num_format": "0.00"},
    "money_in": {"locked": False, "bg_color": FILL_INPUT, "num_format": "#,##0.00"},
    "target_in": {"locked": False, "bg_color": FILL_INPUT},
    "actual_in": {"locked": False, "bg_color": FILL_INPUT},
    "date_in": {"locked": False, "bg_color": FILL_INPUT, "num_format": "yyyy-mm-dd"},
    "text_out": {"locked": True, "bg_color": FILL_FORMULA},
    "target_out": {"locked": True, "bg_color": FILL_FORMULA},
    "num_out": {"locked": True, "bg_color": FILL_FORMULA, "num_format": "0.00"},
    "money_out": {"locked": True, "bg_color": FILL_FORMULA, "num_format": "#,##0.00"},
    "num_const": {"locked": True, "bg_color": FILL_FORMULA, "num_format": "0.00"},
    "pct_out": {"locked": True, "bg_color": FILL_FORMULA, "num_format": "0.00%"},
    "total_out": {"locked": True, "bg_color": FILL_FORMULA, "bold": True, "num_format": "0.00"},
    "flag_out": {"locked": True, "bg_color": FILL_FORMULA, "font_color": "#C00000"},
    "hint_out": {"locked": True, "bg_color": FILL_FORMULA, "font_color": "#C00000", "text_wrap": True},
}
ISSUED_FMT = {"text_in": "text_is", "wrap_in": "wrap_is", "num_in": "num_is", "money_in": "money_is",
              "target_in": "target_is", "date_in": "date_is"}
for _k, _v in list(ISSUED_FMT.items()):
    FORMATS[_v] = {**FORMATS[_k], "locked": True, "bg_color": FILL_ISSUED}
# the 说明 sheet's colour key shows the input colour on a locked cell: only the unit's cells are unlocked
FORMATS["legend_in"] = {**FORMATS["text_in"], "locked": True}
UNLOCKED = frozenset(k for k, v in FORMATS.items() if not v.get("locked", True))


@dataclass
class Written:
    """What was issued: locked cells and their values, keyed ``sheet-key!A1`` (feeds the fingerprint)."""

    issued: dict[str, Any] = field(default_factory=dict)
    issued_rows: list[int] = field(default_factory=list)


def _jsonable(v: Any) -> Any:
    if isinstance(v, (dt.date, dt.datetime)):
        return excel_serial(v)
    return v


ConditionalRule = tuple[str, int, int, int, str, str]  # sheet, first row, column, last row, criteria, format name


def _conditional_rules(L: Layout) -> list[ConditionalRule]:
    """Every conditional format of a layout, rendered once per layout (they depend on nothing else).

    Each is an expression rendered through the layout: the declared checks paint their cell red
    from their flag column (checks.py), never from a hand-typed formula."""
    got = L.cache.get("xlsx_conditional_rules")
    if got is not None:
        return got
    tpl, lang, s = L.tpl, L.lang, L.slots
    rules: list[ConditionalRule] = []

    def cf(key: str, expr: Expr, fmt: str) -> None:
        slot = s[key]
        r1, r2 = (FIRST_ROW, FIRST_ROW + L.n_rows - 1) if slot.is_column else (slot.row, slot.row)
        rules.append((slot.sheet, r1, slot.col, r2, L.render_at(expr, slot.sheet, FIRST_ROW if slot.is_column else None), fmt))

    for c in checks.ROW_CHECKS:
        if s[c.cell].sheet == s[c.flag].sheet:  # (formats may not refer to other sheets in Excel 2007)
            cf(c.cell, Var(c.flag).eq(1), "red")
    for rt in tpl.rates:
        cf(f"rate.{rt.id}.explain", Var(f"rate.{rt.id}.flag").eq(1), "red")
    cf("band", ANY_OF(Var("band"), [label("v.out_of_band", lang)]), "red")
    cf("need", ANY_OF(Var("need"), [label("v.yes", lang)]), "amber")
    for target_key, unit_key in (("target", "unit"), ("a_target", "a_unit"), ("actual", "a_unit")):
        cf(target_key, ANY_OF(Var(unit_key), [tpl.date_unit]), "date")
    for i, _ in enumerate(tpl.levels):
        cf(f"lv.{i}.check", ANY_OF(Var(f"lv.{i}.check"), [label("v.mismatch", lang)]), "red")
    for c in tpl.funds_columns:
        total, items = Var(f"funds.total.{c.id}"), Var(f"funds.itemsum.{c.id}")
        cf(f"funds.itemsum.{c.id}", AND(items.ne(0), ABS(items - total) > 0.005), "red")
    L.cache["xlsx_conditional_rules"] = rules
    return rules


def _scalar_env(L: Layout, inputs: dict[tuple[str, int | None], Any], computed: dict[tuple[str, int | None], Any],
                names: set[str]) -> dict[str, Any]:
    """``names`` as the engine binds them, for expressions outside the layout (the form's display
    cells): a slot's value, or a column's values for ``key[]``. Only the names asked for: binding
    every slot of the layout took longer than evaluating the form's display formulas."""
    env: dict[str, Any] = {}
    rows = L.rows()
    for name in names:
        column = name.endswith("[]")
        s = L.slots[name[:-2] if column else name]
        src = computed if s.kind == FORMULA else inputs
        env[name] = [src.get((s.key, r)) for r in rows] if column else (
            computed[(s.key, None)] if s.kind == FORMULA else inputs.get((s.key, None), s.value))
    return env


class _Writer:
    def __init__(self, path: str, tpl: Template, project: Project | None, lang: str, password: str | None,
                 key: bytes | None = None, office: dict[str, Any] | None = None):
        self.tpl, self.project, self.lang, self.password, self.key = tpl, project, lang, password, key
        import xlsxwriter  # here, not at module level: importing the writer for a helper (atomic_output) costs nothing

        self.office = dict(office or (project.office if project else {}))
        self.L: Layout = layout_for(tpl, lang)
        # in memory: XlsxWriter otherwise writes every part to a temporary file first (~22 per workbook)
        self.wb = xlsxwriter.Workbook(path, {"strings_to_formulas": False, "strings_to_urls": False, "in_memory": True})
        self.fmt = {k: self.wb.add_format({**_BASE, **v}) for k, v in FORMATS.items()}
        self.fmt.update({k: self.wb.add_format({**_BASE, "border_color": "#000000", "locked": True, **v})
                         for k, v in form_sheet.FORM_FORMATS.items()})
        self.ws = {k: self.wb.add_worksheet(self.L.sheet(k), _worksheet_class()) for k in SHEETS}
        self.out = Written()
        # fill values (actuals, scores, spent amounts…) only for a project parsed with them, i.e.
        # `new --with-actuals`; an issued form or a blank one leaves every unlocked cell empty
        self.fill_allowed = project is not None and not project.issued_only
        # what a formula sees in each non-formula cell written, and the 自评表's display formulas
        # waiting for their cached results (computed by the engine once every input is known: see
        # flush_formulas, which also writes every formula slot of the layout)
        self.inputs: dict[tuple[str, int | None], Any] = {}
        self.pending_exprs: list[tuple[int, int, Expr, str]] = []

    # ---- cell writing ------------------------------------------------------------------------
    def put(self, slot: Slot, value: Any, row: int | None = None, fmt: str | None = None) -> None:
        ws = self.ws[slot.sheet]
        r = slot.row if row is None else row
        name = fmt or slot.fmt
        f = self.fmt[name] if name else None
        key = (slot.key, row if slot.is_column else None)
        if value is None or value == "":
            self.inputs[key] = None
            ws.write_blank(r, slot.col, None, f)
            return
        if name in UNLOCKED and not self.fill_allowed:
            raise RuntimeError(f"fill field {slot.key} would be written into an issued workbook: {value!r}")
        self.inputs[key] = excel_serial(value) if isinstance(value, (dt.date, dt.datetime)) else value
        if isinstance(value, (dt.date, dt.datetime)):
            ws.write_datetime(r, slot.col, value if isinstance(value, dt.datetime) else dt.datetime(value.year, value.month, value.day),
                              self.fmt["date_is"] if fmt in ("target_is", "date_is") else self.fmt["date_in"])
        elif isinstance(value, bool):
            ws.write_boolean(r, slot.col, value, f)
        elif isinstance(value, (int, float)):
            ws.write_number(r, slot.col, value, f)
        else:
            ws.write_string(r, slot.col, str(value), f)

    def issue(self, slot: Slot, value: Any, row: int | None = None) -> None:
        """Write a prefilled, locked cell and record it in the issued set."""
        self.put(slot, value, row, ISSUED_FMT.get(slot.fmt, slot.fmt))
        key = f"{slot.sheet}!{self.L.a1(slot, row)}"
        self.out.issued[key] = _jsonable(value)

    def flush_formulas(self) -> None:
        """Write every formula slot of the layout (and the queued display formulas of the 自评表) with
        the value the engine computes for the state being issued.

        A previewer, Protected View or WPS with calculation off shows these cached results, so what
        the unit sees first must be right (blanks where scores belong read as "0 points"). The
        engine is proven equal to the formulas (tests/test_engine_agreement.py). The one exception
        is the canary (元数据!B1), written by :meth:`meta` with the cached result '' so that ``check``
        still recognises a workbook nobody recalculated (X002) — the issued state is not the returned state.
        """
        computed = evaluate(self.L, self.inputs)
        cached, fmt = form_sheet.cached, self.fmt.get
        for sheet, corners, cells in _formula_cells(self.L):
            ws = self.ws[sheet]
            _put_formulas(ws, corners, [(r, c, formula, stored, fmt(f), cached(computed.get(key)))
                                        for r, c, key, formula, stored, f in cells])
        # the 自评表's display formulas (not slots): evaluated here, over the names they use
        formulas = [(r, c, f, *_form_formula(self.L, expr)) for r, c, expr, f in self.pending_exprs]
        env = _scalar_env(self.L, self.inputs, computed, set().union(*(names for *_, names in formulas)))
        display = [(r, c, formula, stored, fmt(f), cached(fn(env))) for r, c, f, formula, stored, fn, _names in formulas]
        if display:
            _put_formulas(self.ws[form_sheet.FORM], _corners(display), display)
        self.pending_exprs.clear()

    # ---- sheets ------------------------------------------------------------------------------
    def write(self) -> Written:
        self.lists()
        self.budget()
        self.tables()
        self.scoring_blocks()
        self.summary()
        self.form()
        self.guide()
        self.meta()
        self.finish_sheets()
        self.flush_formulas()
        return self.out

    def form(self) -> None:
        """The print-ready 自评表 (form_sheet.py): its slot formulas queue like any other."""
        def display(ws: Any, r: int, c: int, expr: Expr, fmt: str) -> None:
            assert ws is self.ws[form_sheet.FORM]
            self.pending_exprs.append((r, c, expr, fmt))

        form_sheet.write_form(self, display)

    def lists(self) -> None:
        ws, tpl, lang = self.ws["lists"], self.tpl, self.lang
        columns = {
            "lst_levels": [lv.name for lv in tpl.indicator_levels()],
            "lst_categories": [c for lv in tpl.indicator_levels() for c in lv.categories],
            "lst_ops": list(tpl.operators),
            "lst_units": list(tpl.units),
            "lst_grades": [g.name for g in tpl.grades],
            "lst_na": [label("v.na", lang)],
        }
        for j, (name, items) in enumerate(columns.items()):
            ws.write_string(0, j, name)
            for i, it in enumerate(items):
                ws.write_string(1 + i, j, it)
            col = xl_col_to_name(j)
            self.wb.define_name(name, f"='{self.L.sheet('lists')}'!${col}$2:${col}${1 + max(len(items), 1)}")
        ws.hide()

    def budget(self) -> None:
        L, ws, lang, pr = self.L, self.ws["budget"], self.lang, self.project
        ws.merge_range(0, 0, 0, 6, label("title.budget", lang) + ("：" + pr.header.get("name", "") if pr and pr.header.get("name") else ""),
                       self.fmt["title"])
        for f in ("name", "department", "unit", "year"):
            s = L.slots[f"hdr.{f}"]
            ws.write_string(s.row, 0, s.header, self.fmt["label_bold"])
            v = pr.header.get(f) if pr else None
            if v is not None:
                self.issue(s, v)
            else:
                self.put(s, None)
        fr = L.funds_header_row
        ws.write_string(fr - 1, 0, label("funds.title", lang, unit=self.tpl.funds_unit), self.fmt["label_bold"])
        ws.write_string(fr, 0, label("funds.item", lang), self.fmt["header"])
        for j, c in enumerate(self.tpl.funds_columns):
            ws.write_string(fr, 1 + j, c.label if lang == "zh" else c.en, self.fmt["header"])
        total_row = L.funds_rows[0]
        ws.write_string(total_row, 0, self.tpl.funds_total_label, self.fmt["label_bold"])
        for c in self.tpl.funds_columns:
            self.value_slot(L.slots[f"funds.total.{c.id}"], pr.funds_total.get(c.id) if pr else None, c.issued)
        for i in range(self.tpl.funds_item_rows):
            item = pr.funds_items[i] if pr and i < len(pr.funds_items) else {}
            ls = L.slots[f"funds.item{i}.label"]
            if ls.kind == CONST:
                self.put(ls, ls.value)
            else:
                self.value_slot(ls, item.get("label"), True)
            for c in self.tpl.funds_columns:
                self.value_slot(L.slots[f"funds.item{i}.{c.id}"], item.get(c.id), c.issued)
        ws.write_string(L.funds_rows[3], 0, label("funds.itemsum", lang), self.fmt["label"])
        ws.write_string(L.funds_rows[3] + 1, 0, label("funds.amount", lang), self.fmt["label"])
        rr = L.rates_header_row
        ws.write_string(rr - 1, 0, label("rates.title", lang), self.fmt["label_bold"])
        for j, k in enumerate(("rates.name", "rates.level", "rates.ratio", "rates.weight", "rates.score",
                               "rates.need_explain", "rates.explain", "col.hint")):
            ws.write_string(rr, j, label(k, lang), self.fmt["header"])
        for rt in self.tpl.rates:
            p = f"rate.{rt.id}"
            self.put(L.slots[p + ".explain"], pr.rates.get(rt.id) if pr else None)
        ws.set_column(0, 0, 22)
        ws.set_column(1, len(self.tpl.funds_columns) + 3, 14)
        ws.set_column(6, 6, 40)
        ws.set_column(7, 7, 16)
        ws.set_column(CHECK_COL, CHECK_COL, 4, None, {"hidden": True})  # the rates' check flags

    def value_slot(self, slot: Slot, value: Any, issued: bool) -> None:
        if value is not None and issued:
            self.issue(slot, value)
        else:
            self.put(slot, value)

    def tables(self) -> None:
        L, lang = self.L, self.lang
        titles = {"indicators": "title.indicators", "actuals": "title.actuals", "scoring": "title.scoring"}
        for sheet, tkey in titles.items():
            ws = self.ws[sheet]
            ws.write_string(0, 0, label(tkey, lang), self.fmt["title"])
            for s in L.columns(sheet):
                ws.write_string(HEADER_ROW, s.col, s.header, self.fmt["header"])
                # the declared checks' flag columns: computed and compared like any formula, not shown
                ws.set_column(s.col, s.col, s.width, None, {"hidden": True} if s.key.startswith("chk.") else None)
            ws.write_string(L.end_row, 0, label("v.end", lang), self.fmt["note"])
            ws.freeze_panes(FIRST_ROW, 2 if sheet != "indicators" else 4)
        # merged across the table: in the 5-wide 序号 column the wrapped legend was cut to one clipped line
        self.ws["indicators"].merge_range(1, 0, 1, len(L.columns("indicators")) - 1, "  ".join(_legend(lang)),
                                          self.fmt["note"])
        rows = self.project.indicators if self.project else [
            {"level": d.level, "category": d.category, "name": d.name, "op": d.op, "target": d.target, "unit": d.unit,
             "weight": d.weight, "note": d.note} for d in self.tpl.indicators]
        issued_cols = [s for s in L.columns("indicators") if s.kind == ISSUED]
        fill = {"actual": "actual", "grade": "grade", "score": "manual", "na": "na", "explain": "explain"}
        for i, r in enumerate(L.rows()):
            spec = rows[i] if i < len(rows) else None
            for no_key in ("no", "a_no", "s_no"):
                s = L.slots[no_key]
                self.ws[s.sheet].write_number(r, s.col, i + 1, self.fmt["label"])
            for s in issued_cols:
                if spec is not None:
                    v = spec.get(s.key)
                    self.issue(s, "" if v is None else v, r)
                else:
                    self.put(s, None, r)
            if spec is not None:
                self.out.issued_rows.append(r)
                lines = max(form_sheet.text_lines(str(spec.get("note") or ""), L.slots["note"].width),
                            form_sheet.text_lines(str(spec.get("name") or ""), L.slots["name"].width))
                if lines > 1:  # wrapped 评价要点 get the height they need (XlsxWriter does not autofit)
                    self.ws["indicators"].set_row(r, min(409, 14 * lines + 3))
            for key, slot_key in fill.items():
                v = spec.get(key) if spec else None
                if key == "na" and v is True:
                    v = label("v.na", lang)
                if key == "grade" and v:
                    v = next((g.name for g in self.tpl.grades if v in (g.name, g.short)), v)
                self.put(L.slots[slot_key], v, r)
        self.validations()
        self.conditional_formats()

    def scoring_blocks(self) -> None:
        L, ws, lang = self.L, self.ws["scoring"], self.lang
        lc = L.level_col
        for j, k in enumerate(("lv.name", "lv.std", "lv.weight", "lv.score", "lv.na", "lv.check")):
            ws.write_string(HEADER_ROW, lc + j, label(k, lang), self.fmt["header"])
        ws.write_string(HEADER_ROW - 1, lc, label("lv.title", lang), self.fmt["label_bold"])
        overrides = self.project.level_weights if self.project else {}
        for i, lv in enumerate(self.tpl.levels):
            self.issue(L.slots[f"lv.{i}.std"], overrides.get(lv.name, lv.weight))
        ws.set_column(lc, lc, 14)
        ws.set_column(lc + 1, lc + 5, 10)

    def summary(self) -> None:
        L, ws, lang, pr = self.L, self.ws["summary"], self.lang, self.project
        ws.merge_range(0, 0, 0, 4, label("sum.title", lang), self.fmt["title"])
        for f in ("name", "department", "unit", "year"):
            s = L.slots[f"sum.hdr.{f}"]
            ws.write_string(s.row, 0, label(f"hdr.{f}", lang), self.fmt["label_bold"])
        r0 = L.summary_levels_row
        for j, k in enumerate(("lv.name", "col.weight", "lv.score", "sum.rate")):
            ws.write_string(r0, j, label(k, lang), self.fmt["header"])
        g = L.summary_goal_row
        ws.write_string(g - 1, 0, label("sum.goal", lang), self.fmt["label_bold"])
        for key in ("goal.expected", "goal.actual", "sign.lead", "sign.finance", "sign.date"):
            s = L.slots[key]
            ws.write_string(s.row, 0, s.header, self.fmt["label_bold"])
            if key == "goal.expected":
                v = pr.goal_expected if pr else None
                self.value_slot(s, v, True)
            elif key == "goal.actual":
                self.put(s, pr.goal_actual if pr else None)
            else:
                self.put(s, pr.sign.get(key.split(".")[1]) if pr else None)
            ws.set_row(s.row, 48 if key.startswith("goal") else None)
        ws.set_column(0, 0, 18)
        ws.set_column(1, 1, 50)
        ws.set_column(2, 3, 12)
        self.chart()

    def chart(self) -> None:
        L, ws = self.L, self.ws["summary"]
        n = len(self.tpl.levels)
        r0 = L.summary_levels_row + 1
        name = self.L.sheet("summary")
        ch = self.wb.add_chart({"type": "column"})
        def rng(col: int) -> str:  # quoted sheet name, as everywhere else (compat.md)
            return f"='{name}'!${xl_col_to_name(col)}${r0 + 1}:${xl_col_to_name(col)}${r0 + n}"

        for col, key in ((1, "col.weight"), (2, "lv.score")):
            ch.add_series({"name": label(key, self.lang), "categories": rng(0), "values": rng(col)})
        ch.set_title({"name": label("sum.chart", self.lang)})
        ch.set_legend({"position": "bottom"})
        anchor = L.summary_goal_row + 8
        ws.insert_chart(anchor, 0, ch, {"x_scale": 1.3, "y_scale": 1.0})
        # the chart starts a page of its own: printed after the tables it was cut across two pages
        ws.set_h_pagebreaks([anchor])  # <brk id=anchor>: a break after 1-based row `anchor`, i.e. above the chart

    def guide(self) -> None:
        ws, lang, tpl = self.ws["guide"], self.lang, self.tpl
        lines = _guide_lines(tpl, lang, self.L) + office_guide_lines(self.office, lang)
        ws.set_column(0, 0, 110)
        ws.write_string(0, 0, tpl.name, self.fmt["title"])
        for i, line in enumerate(lines):
            fmt = None
            if line.startswith("■"):
                fmt = {"■输入": "legend_in", "■下达": "text_is", "■计算": "text_out"}.get(line[:3])
            ws.write_string(2 + i, 0, line, self.fmt[fmt] if fmt else self.fmt["note"])
            # explicit heights: wrapped lines overlapped the next row where the height stayed at one line
            ws.set_row(2 + i, 15 * form_sheet.text_lines(line, 110) + 3)
        ws.activate()

    def meta(self) -> None:
        ws, tpl = self.ws["meta"], self.tpl
        ws.write_string(0, 0, "canary")
        canary = self.L.slots["meta.canary"]
        ws.write_formula(canary.row, canary.col, self.L.formula(canary), None, "")  # (see flush_formulas)
        issue = self.issue_record()
        record = IssuedRecord(self.out.issued, self.out.issued_rows, self.project is not None,
                              {"issue": issue} if issue else {})
        fp = fingerprint(tpl.digest(), record)
        entries: list[tuple[str, str]] = [
            ("generator_version", __version__),
            ("template_id", tpl.id),
            ("template_version", tpl.version),
            ("template_digest", tpl.digest()),
            ("lang", self.lang),
            ("indicator_rows", str(tpl.indicator_rows)),
            # a project's indicator list is complete as issued; a blank workbook is for the unit to fill
            ("project_issued", "1" if self.project is not None else "0"),
            ("fingerprint", fp),
            ("created", dt.datetime.now().strftime("%Y-%m-%dT%H:%M:%S")),
        ]
        signature = None
        if self.key is not None:
            signature = signing.sign(self.key, tpl.digest(), record, formulas_digest(self.L))
            entries += [("signature", signature), ("key_id", signing.key_id(self.key))]
        blobs = {"ruleset": _ruleset_json(self.L), "issued": canonical(record.to_json()).decode()}
        for r, c, text in metadata.meta_cells(entries, blobs):
            ws.write_string(r, c, text)
        ws.hide()
        self.wb.set_custom_property(metadata.PROP_TEMPLATE, f"{tpl.id}@{tpl.version}")
        self.wb.set_custom_property(metadata.PROP_GENERATOR, __version__)
        self.wb.set_custom_property(metadata.PROP_FINGERPRINT, fp)
        self.wb.set_custom_property(metadata.PROP_LANG, self.lang)
        if signature:
            self.wb.set_custom_property(metadata.PROP_SIGNATURE, signature)
        self.wb.set_properties({"title": tpl.name, "comments": f"wbtool {__version__} / {tpl.id}@{tpl.version}"})

    def issue_record(self) -> dict[str, Any]:
        """What was asked of whom: project code, name and year and the office's return details. Kept
        in the issued record's ``issue`` field, so the fingerprint and the signature cover it."""
        rec = dict(self.office)
        if self.project is not None:
            rec.update({k: self.project.header[k] for k in ("name", "year") if self.project.header.get(k) is not None})
        return {k: _jsonable(v) for k, v in rec.items()}

    # ---- behaviour -----------------------------------------------------------------------------
    def validations(self) -> None:
        L, lang = self.L, self.lang
        first, last = FIRST_ROW, FIRST_ROW + L.n_rows - 1
        zh = lang != "en"

        def dv(slot: Slot, opts: dict[str, Any], title: str, msg: str, row: int | None = None, row2: int | None = None) -> None:
            ws = self.ws[slot.sheet]
            r1 = first if row is None else row
            r2 = last if row2 is None else row2
            if row is not None and row2 is None:
                r2 = row
            base = {"input_title": title[:32], "input_message": msg[:255], "error_title": title[:32],
                    "error_message": msg[:255]}
            rc = ws.data_validation(r1, slot.col, r2, slot.col, {**base, **opts})
            if rc != 0:
                raise RuntimeError(f"data validation refused for {slot.key}: {rc}")

        def rel(key: str) -> str:
            s = L.slots[key]
            return f"${xl_col_to_name(s.col)}{FIRST_ROW + 1}"

        s = L.slots
        dv(s["level"], {"validate": "list", "source": "=lst_levels"},
           "一级指标" if zh else "Level 1", "请从下拉列表选择一级指标" if zh else "Choose a level from the list")
        dv(s["category"], {"validate": "list", "source": "=lst_categories"},
           "二级指标" if zh else "Level 2", "请从下拉列表选择二级指标（须属于所选一级指标）" if zh else "Choose a level-2 category of the chosen level")
        dv(s["op"], {"validate": "list", "source": "=lst_ops"},
           "指标性质" if zh else "Operator", "≥ 越大越好；≤ 越小越好；= 等于；定性 按等级评分" if zh else "≥ more is better; ≤ less is better; = exact; 定性 graded")
        dv(s["unit"], {"validate": "list", "source": "=lst_units", "error_type": "warning"},
           "计量单位" if zh else "Unit", "请从列表选择计量单位；日期型指标选“日期”" if zh else "Choose a unit; choose 日期 for a deadline")
        dv(s["weight"], {"validate": "decimal", "criteria": "between", "minimum": 0, "maximum": 100},
           "分值" if zh else "Weight", "分值为 0–100 之间的数字" if zh else "A number from 0 to 100")
        tgt = rel("target")
        op = rel("op")
        dv(s["target"], {"validate": "custom", "value": f"=OR({op}=\"定性\",{op}=\"评分\",ISNUMBER({tgt}))"},
           "指标值" if zh else "Target", "定量指标请只填数字（或日期），运算符和单位分别填在“指标性质”“计量单位”列" if zh
           else "Numbers (or a date) only; operator and unit go in their own columns")
        act, aop = rel("actual"), rel("a_op")
        dv(s["actual"], {"validate": "custom", "value": f"=OR(ISNUMBER({act}),{aop}=\"定性\",{aop}=\"评分\")"},
           "实际完成值" if zh else "Actual", "定量指标请填数字（与指标值同一计量单位；百分比填 85 表示 85%），不要带单位或文字" if zh
           else "A number in the target's unit (85 means 85%), no units or words")
        dv(s["grade"], {"validate": "list", "source": "=lst_grades"},
           "定性等级" if zh else "Grade", "定性指标请选择等级，并在“评定得分”填写该等级区间内的分数" if zh
           else "Pick a grade and enter a score inside its band")
        man, wt = rel("manual"), rel("a_weight")
        dv(s["manual"], {"validate": "custom", "value": f"=AND(ISNUMBER({man}),{man}>=0,{man}<={wt})"},
           "评定得分" if zh else "Entered score", "0 至分值之间的数字（定性、评分类或逾期的时效指标填写）" if zh
           else "A number from 0 to the weight (graded, judged or late deadline rows)")
        if self.tpl.not_applicable:
            dv(s["na"], {"validate": "list", "source": "=lst_na"},
               "不适用" if zh else "Not applicable", "该指标不适用时选择“不适用”，总分按适用分值折算" if zh
               else "Mark a row not applicable; the total is rescaled")
        for c in self.tpl.funds_columns:
            for key in [f"funds.total.{c.id}"] + [f"funds.item{i}.{c.id}" for i in range(self.tpl.funds_item_rows)]:
                dv(s[key], {"validate": "decimal", "criteria": ">=", "value": 0}, "金额" if zh else "Amount",
                   f"金额（{self.tpl.funds_unit}），不小于 0" if zh else f"Amount in {self.tpl.funds_unit}, not negative",
                   row=s[key].row)
        dv(s["sign.date"], {"validate": "date", "criteria": "between", "minimum": dt.date(2000, 1, 1),
                            "maximum": dt.date(2100, 12, 31)},
           "填报日期" if zh else "Date", "请填写日期，如 2025-03-31" if zh else "A date such as 2025-03-31", row=s["sign.date"].row)

    def conditional_formats(self) -> None:
        """Paint cells from the layout's conditional-format rules (_conditional_rules)."""
        formats = {"red": self.wb.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"}),
                   "amber": self.wb.add_format({"bg_color": "#FFEB9C"}),
                   "date": self.wb.add_format({"num_format": "yyyy-mm-dd"})}
        for sheet, r1, c, r2, criteria, fmt in _conditional_rules(self.L):
            self.ws[sheet].conditional_format(r1, c, r2, c, {"type": "formula", "criteria": criteria,
                                                             "format": formats[fmt]})

    def finish_sheets(self) -> None:
        L = self.L
        # constant cells of the remaining slots (formula slots: flush_formulas)
        for slot in L.scalars():
            if slot.kind == CONST and slot.value is not None and not slot.key.startswith("funds.item"):
                self.put(slot, slot.value)
        options = {"format_columns": True, "format_rows": True, "select_locked_cells": True,
                   "select_unlocked_cells": True}
        for key in PROTECTED_SHEETS:
            self.ws[key].protect(self.password or "", options)
        self.ws["form"].protect(self.password or "", options)  # (not in PROTECTED_SHEETS: returns may predate it)
        header, footer = self.header_footer()
        for key in ("guide", "budget", "indicators", "actuals", "scoring", "summary", "form"):
            ws = self.ws[key]
            ws.set_header(header, {"margin": 0.3})
            ws.set_footer(footer, {"margin": 0.3})
            if key == "form":
                form_sheet.setup_print(self)
                continue
            ws.set_paper(9)  # A4
            ws.set_landscape()
            ws.fit_to_pages(1, 0)
            ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.7)
            if key in ("indicators", "actuals", "scoring"):
                ws.repeat_rows(HEADER_ROW)

    def header_footer(self) -> tuple[str, str]:
        """Every printed page names its project and its place in the stack (30 projects get printed together)."""
        name = (self.project.header.get("name") if self.project else None) or self.tpl.name
        name = str(name)[:80].replace("&", "&&")
        if self.lang == "en":
            return f"&L{name}&R&A", f"&L{name}&RPage &P of &N"
        return f"&L{name}&R&A", f"&L{name}&R第 &P 页 共 &N 页"


_FUNCTION_NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_.]*)\(")


def _classic_only(formula: str) -> bool:
    """Whether every function ``formula`` calls is a classic one (compat.md's whitelist)."""
    return all(n.upper() in CLASSIC_FUNCTIONS for n in _FUNCTION_NAME.findall(formula))


def _stored_text(formula: str) -> str | None:
    """The text XlsxWriter's write_formula stores for ``formula`` when it stores it as given, else None.

    For a formula of classic functions only (no dynamic-array or future function, no array braces)
    write_formula just drops the leading '=', after a dozen regex searches per call that were a
    quarter of `new`; worked out once per layout here instead (see _put_formulas)."""
    from xlsxwriter.worksheet import re_dynamic_function

    if formula.startswith("{") or formula.endswith("}") or "_xlfn." in formula or not _classic_only(formula) \
            or re_dynamic_function.search(formula):
        return None
    return _StoredFormula(formula[1:] if formula.startswith("=") else formula)


class _StoredFormula(str):
    """A formula's text as XlsxWriter stores it (_stored_text), keeping its XML-escaped form once it
    is written (by _worksheet_class's _escape_data): a layout's formula texts, ~200 KB of them, go
    into every file, and escaping them afresh was 1 ms a file. Made once per layout, never per file."""

    escaped: str | None = None


FormulaCell = tuple[int, int, tuple[str, int | None], str, str | None, str]  # row, col, value key, formula, stored, format


def _formula_cells(L: Layout) -> list[tuple[str, tuple[tuple[int, int], ...], list[FormulaCell]]]:
    """Every formula slot cell of the layout but the canary, by sheet: (sheet, its corners, cells),
    each cell with its formula text and the text XlsxWriter stores for it; worked out once per layout."""
    got = L.cache.get("xlsx_formula_cells")
    if got is None:
        by_sheet: dict[str, list[FormulaCell]] = {}
        for s in formula_slots(L):
            if s.key == "meta.canary":
                continue
            for row in (L.rows() if s.is_column else (None,)):
                formula = L.formula(s, row)
                by_sheet.setdefault(s.sheet, []).append(
                    (s.row if row is None else row, s.col, (s.key, row), formula, _stored_text(formula), s.fmt))
        got = L.cache["xlsx_formula_cells"] = [(sheet, _corners(cells), cells) for sheet, cells in by_sheet.items()]
    return got


def _corners(cells: list[Any]) -> tuple[tuple[int, int], ...]:
    """The top-left and bottom-right corners of the cells: what XlsxWriter's dimension check keeps."""
    rows, cols = [c[0] for c in cells], [c[1] for c in cells]
    return (min(rows), min(cols)), (max(rows), max(cols))


def _put_formulas(ws: Any, corners: tuple[tuple[int, int], ...], cells: list[tuple[int, int, str, str | None, Any, Any]]) -> None:
    """``ws.write_formula(row, col, formula, fmt, value)`` for each (row, col, formula, stored, fmt, value).

    With ``stored`` (from _stored_text) the cell is put into the worksheet's table as write_formula
    would put it, without re-parsing the text (~10 µs a cell, on 1,600 cells), and the sheet's
    dimensions are extended once, by the corners of all the cells, as write_formula does cell by
    cell. tests/test_writer_identity.py proves the output is the same cell for cell."""
    from xlsxwriter.worksheet import CellFormulaTuple

    for r, c in corners:
        if ws._check_dimensions(r, c):
            raise RuntimeError(f"formula cell outside the sheet: {r}, {c}")
    table = ws.table
    for r, c, formula, stored, fmt, value in cells:
        if stored is None:
            ws.write_formula(r, c, formula, fmt, value)
        else:
            table[r][c] = CellFormulaTuple(stored, fmt, value)


def _form_formula(L: Layout, expr: Expr) -> tuple[str, str | None, Any, frozenset[str]]:
    """A 自评表 display formula's text, stored text, compiled closure and variables, memoised per layout.

    Keyed by the expression object: the form's display expressions are the layout's own
    (FormGeometry.display, form_sheet.shown_at), so the memo holds a bounded set per layout."""
    memo = L.cache.setdefault("xlsx_form_formulas", {})
    got = memo.get(expr)
    if got is None:
        names = frozenset(expr.variables())
        formula = render(expr, {n: L.ref(n, form_sheet.FORM) for n in names})
        got = memo[expr] = (formula, _stored_text(formula), expr.compiled(), names)
    return got


@functools.cache
def _worksheet_class() -> type:
    """XlsxWriter's Worksheet without per-cell costs it pays for nothing on these workbooks.

    - ``_prepare_formula``: XlsxWriter prefixes newer functions (XLOOKUP → _xlfn.XLOOKUP…) with
      ~30 (for conditional formats ~130) regex rewrites per formula; that was 60 % of `new`. A
      formula that calls only classic functions comes out of them unchanged, so for it the rewrite
      is just "drop the = and braces"; anything else takes XlsxWriter's own path.
    - ``_escape_attributes`` / ``_escape_data``: XlsxWriter finds out that a value is a number (a
      cell's style index, a formula's cached number) from the TypeError its regex raises on it,
      ~0.6 µs a time, two or three times a cell; a number, or a text of letters and digits only
      (a cell reference), is returned as is here without raising or searching.
      A layout's formula text (_StoredFormula) is escaped once and then reused.
    - ``_calculate_spans`` (see below).

    Same results for every input; tests/test_writer_identity.py proves the output cell for cell."""
    from xlsxwriter.worksheet import Worksheet

    escape_attributes, escape_data = Worksheet._escape_attributes, Worksheet._escape_data

    class _Worksheet(Worksheet):
        def _prepare_formula(self, formula: str, expand_future_functions: bool = False) -> str:
            if "_xlfn." in formula or not _classic_only(formula):
                return super()._prepare_formula(formula, expand_future_functions)
            if formula.startswith("{"):
                formula = formula[1:]
            if formula.startswith("="):
                formula = formula[1:]
            if formula.endswith("}"):
                formula = formula[:-1]
            return formula

        def _escape_attributes(self, attribute: Any) -> Any:
            if not isinstance(attribute, str) or attribute.isalnum():  # (a cell reference, a style index)
                return attribute
            return escape_attributes(self, attribute)

        def _escape_data(self, data: Any) -> Any:
            if data.__class__ is _StoredFormula:
                if data.escaped is None:
                    data.escaped = escape_data(self, data)
                return data.escaped
            if not isinstance(data, str) or data.isalnum():  # (a number, a word: nothing to escape)
                return data
            return escape_data(self, data)

        def _calculate_spans(self) -> None:
            """XlsxWriter's row spans (first:last column of each block of 16 rows), from each row's
            cells rather than by probing every column of the sheet's width in every row."""
            if self.comments or self.dim_rowmin is None:
                return super()._calculate_spans()
            spans: dict[int, str] = {}
            lo = hi = None
            table, colmin, colmax, rowmax = self.table, self.dim_colmin, self.dim_colmax, self.dim_rowmax
            for row in range(self.dim_rowmin, rowmax + 1):
                cells = table.get(row)
                if cells:
                    first, last = min(cells), max(cells)
                    if first < colmin or last > colmax:  # (never: every cell passed the dimension check)
                        return super()._calculate_spans()
                    if lo is None:
                        lo, hi = first, last
                    else:
                        lo, hi = min(lo, first), max(hi, last)
                if (row + 1) % 16 == 0 or row == rowmax:
                    if lo is not None:
                        spans[row // 16] = f"{lo + 1}:{hi + 1}"
                        lo = None
            self.row_spans = spans

    return _Worksheet


def _ruleset_json(L: Layout) -> str:
    """The template's rule set as stored in the metadata sheet (memoised per layout: dataclasses.asdict
    of a template is ~1 ms, and a template never changes)."""
    got = L.cache.get("ruleset_json")
    if got is None:
        got = L.cache["ruleset_json"] = json.dumps(L.tpl.to_dict(), ensure_ascii=False, sort_keys=True)
    return got


def _legend(lang: str) -> list[str]:
    if lang == "en":
        return ["Yellow: fill in", "Blue: issued (locked)", "Grey: computed (locked)"]
    return ["黄色：由单位填写", "蓝色：财政下达（锁定）", "灰色：自动计算（锁定）"]


def _guide_lines(tpl: Template, lang: str, L: Layout) -> list[str]:
    grades = "；".join(f"{g.name}（{g.short}）：{g.min:.0%}–{g.max:.0%}" for g in tpl.grades)
    bands = "；".join(f"{b.grade} ≥ {b.min:g}" for b in tpl.rating)
    weights = "，".join(f"{lv.name} {lv.weight:g}" for lv in tpl.levels)
    if lang == "en":
        return [
            f"Template {tpl.id} version {tpl.version} ({tpl.basis}); made by wbtool {__version__}.",
            "■输入 Yellow cells: filled by the unit.", "■下达 Blue cells: issued by the finance office, locked.",
            "■计算 Grey cells: formulas, locked — do not paste over them.",
            f"Levels and weights: {weights}. Rating bands (on the rounded total): {bands}.",
            "Targets: operator, value and unit in three separate columns; enter the actual as a bare number in the target's unit (85 means 85%).",
            f"Qualitative rows: pick a grade and enter a score within its band: {grades}.",
            f"Explain every row scoring below its weight or reaching {tpl.overshoot:.0%} of target; mark 不适用 rows to leave them out (the total is rescaled).",
            "Do not insert or delete rows, rename sheets or edit formulas: wbtool check will report it.",
        ]
    return [
        f"模板 {tpl.id} 版本 {tpl.version}（{tpl.basis}）；由 wbtool {__version__} 生成。",
        "■输入 黄色单元格：由预算单位填写。", "■下达 蓝色单元格：财政部门下达，已锁定。",
        "■计算 灰色单元格：公式自动计算，已锁定，请勿粘贴覆盖。",
        f"一级指标及权重：{weights}。评级（按四舍五入后的总分）：{bands}。",
        "指标值：指标性质、指标值、计量单位分三列填写；实际完成值只填数字，单位与指标值一致（百分比填 85 表示 85%）。",
        f"定性指标：选择等级，并在“评定得分”填写该等级区间内的分数：{grades}。",
        f"得分低于分值、或完成值达到指标值 {tpl.overshoot:.0%} 及以上的，须填写“偏差原因分析及改进措施”；不适用的指标选“不适用”，总分按适用分值折算为百分制。",
        "请勿插入或删除行、修改工作表名称或公式：wbtool 检查时会逐一指出。",
    ]


class _PackageZipFile(zipfile.ZipFile):
    """A ZipFile whose writestr deflates at DEFLATE_LEVEL unless told otherwise."""

    def writestr(self, zinfo_or_arcname: Any, data: Any, compress_type: int | None = None,
                 compresslevel: int | None = None) -> None:
        super().writestr(zinfo_or_arcname, data, compress_type, DEFLATE_LEVEL if compresslevel is None else compresslevel)


@contextmanager
def _package_deflate_level() -> Iterator[None]:
    """While XlsxWriter packages a workbook, deflate its parts at DEFLATE_LEVEL.

    XlsxWriter offers no compression option: it opens its zipfile.ZipFile itself, whose writestr
    then deflates at zlib's default level. Its module's ZipFile is swapped for _PackageZipFile and
    put back afterwards. A workbook packaged meanwhile by another thread gets either level; both
    are valid packages of the same parts."""
    import xlsxwriter.workbook as xw

    if xw.ZipFile is not zipfile.ZipFile:  # another thread is in here, or XlsxWriter changed: leave it
        yield
        return
    xw.ZipFile = _PackageZipFile
    try:
        yield
    finally:
        xw.ZipFile = zipfile.ZipFile


def atomic_output(path: Path, force: bool) -> Path:
    """A temporary file beside ``path``; the caller renames it into place only when writing succeeded."""
    if path.exists() and not force:
        raise WbtoolError("O001", f"输出文件已存在：{path}（使用 --force 覆盖）", f"output exists: {path} (use --force to overwrite)")
    if not path.parent.exists():
        raise WbtoolError("O002", f"输出目录不存在：{path.parent}", f"output folder does not exist: {path.parent}")
    fd, tmp = tempfile.mkstemp(prefix=".wbtool-", suffix=path.suffix or ".xlsx", dir=path.parent)
    os.close(fd)
    # mkstemp makes the file 0600; the output is the user's document, so give it the user's umask
    os.chmod(tmp, 0o666 & ~_umask())
    return Path(tmp)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def xlsx_path(output: str | Path) -> Path:
    """``-o`` as given, with ``.xlsx`` added when it has no extension; any other extension is refused
    (xlsx content under .xls or .csv opens with a warning or not at all in Excel/WPS)."""
    p = Path(output)
    if p.suffix.lower() == ".xlsx":
        return p
    if p.suffix == "" or p.suffix[1:].isdigit() or not p.suffix[1:].isascii() or not p.suffix[1:].isalnum():
        return p.with_name(p.name + ".xlsx")
    raise WbtoolError("O003", f"输出文件应以 .xlsx 结尾：{p}（wbtool 只生成 .xlsx）",
                      f"the output must end in .xlsx: {p} (wbtool writes .xlsx only)")


def write_workbook(path: str | Path, tpl: Template, project: Project | None = None, lang: str = "zh",
                   password: str | None = None, force: bool = False, key: bytes | None = None,
                   office: dict[str, Any] | None = None) -> Written:
    """Write a workbook atomically: nothing appears under ``path`` unless it was completely written."""
    path = Path(path)
    tmp = atomic_output(path, force)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # XlsxWriter only warns on e.g. a too-long list: make it fatal
            w = _Writer(str(tmp), tpl, project, lang, password, key, office)
            out = w.write()
            with _package_deflate_level():
                w.wb.close()
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out
