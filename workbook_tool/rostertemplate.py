"""`wbtool roster-template`: the empty roster an office fills to issue many projects at once.

Two sheets, 项目 (one row per project) and 指标 (one row per indicator, keyed by 项目编码), with
dropdowns for the columns that take a fixed vocabulary (模板, 一级/二级指标, 指标性质, 计量单位).
The same writer, given rows, makes the sample roster in ``samples/`` — so the sample always has
the columns the blank one has, and both read back through :mod:`roster`.
"""
from __future__ import annotations

import datetime as dt
import os
import warnings
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from .template import builtin_templates, load_template
from .writer import atomic_output

PROJECT_COLUMNS = ("项目编码", "项目名称", "主管部门", "实施单位", "年度", "模板", "年初预算数（万元）", "预算数（万元）",
                   "年度总体目标", "文件名", "报送截止日期", "联系人", "联系电话", "报送方式")
INDICATOR_COLUMNS = ("项目编码", "项目名称", "一级指标", "二级指标", "三级指标", "指标性质", "指标值", "计量单位", "分值", "备注")
ROWS = 500  # rows carrying dropdowns

_HELP = [
    "名单填写说明（wbtool batch 名单.xlsx -o 下发/ 按此表为每个项目生成一份评价表）",
    "“项目”表每行一个项目。模板：self-eval 为项目支出绩效自评表（财预〔2020〕10号 附件1），dept-eval 为绩效评价指标体系（决策/过程/产出/效益/满意度）。",
    "预算数：self-eval 为全年预算数，dept-eval 为预算资金（万元）；年初预算数仅 self-eval 使用。实际执行/到位/支出由预算单位填写，不在此表。",
    "“指标”表每行一个三级指标，用项目编码（或项目名称）对应到项目；指标值可写成预算系统导出的样式：≥800本、≤90万元、=100%、2024年10月31日前、有效提高。",
    "dept-eval 的决策、过程指标已在模板中，无需列出（列出同名指标可调整其分值）。各一级指标的分值合计须等于该一级指标的权重，总计 100。",
    "有任何问题时 wbtool 列出全部问题（工作表、行号、列、值），不生成任何文件。",
]


def _vocab() -> dict[str, list[str]]:
    tpls = [load_template(t) for t in builtin_templates()]
    def union(items: Any) -> list[str]:
        out: list[str] = []
        for x in items:
            if x not in out:
                out.append(x)
        return out
    return {
        "模板": [t.id for t in tpls],
        "一级指标": union(lv.name for t in tpls for lv in t.indicator_levels()),
        "二级指标": union(c for t in tpls for lv in t.indicator_levels() for c in lv.categories),
        "指标性质": union(o for t in tpls for o in t.operators),
        "计量单位": union(u for t in tpls for u in t.units),
    }


def write_roster_template(path: str | Path, force: bool = False, projects: list[dict[str, Any]] | None = None,
                          indicators: list[dict[str, Any]] | None = None) -> Path:
    """Write the roster (empty, or with the given rows keyed by column header) atomically."""
    out = Path(path)
    tmp = atomic_output(out, force)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            wb = xlsxwriter.Workbook(str(tmp), {"strings_to_formulas": False, "strings_to_urls": False})
            head = wb.add_format({"bold": True, "bg_color": "#D9D9D9", "border": 1, "text_wrap": True, "valign": "vcenter"})
            date = wb.add_format({"num_format": "yyyy-mm-dd"})
            vocab = _vocab()
            lists = wb.add_worksheet("列表")
            names: dict[str, str] = {}
            for j, (k, items) in enumerate(vocab.items()):
                lists.write_string(0, j, k)
                for i, it in enumerate(items):
                    lists.write_string(1 + i, j, it)
                col = xl_col_to_name(j)
                names[k] = f"=列表!${col}$2:${col}${1 + len(items)}"
            for key, cols, rows in (("项目", PROJECT_COLUMNS, projects or []), ("指标", INDICATOR_COLUMNS, indicators or [])):
                ws = wb.add_worksheet(key)
                for j, c in enumerate(cols):
                    ws.write_string(0, j, c, head)
                    ws.set_column(j, j, 30 if c in ("项目名称", "年度总体目标", "三级指标", "备注") else 14)
                    short = c.split("（")[0]
                    if short in names:
                        ws.data_validation(1, j, ROWS, j, {"validate": "list", "source": names[short],
                                                           "error_type": "warning" if short == "计量单位" else "stop"})
                    elif short in ("年度",):
                        ws.data_validation(1, j, ROWS, j, {"validate": "integer", "criteria": "between", "minimum": 1990, "maximum": 2100})
                    elif short in ("报送截止日期",):
                        ws.data_validation(1, j, ROWS, j, {"validate": "date", "criteria": "between",
                                                           "minimum": dt.date(2000, 1, 1), "maximum": dt.date(2100, 12, 31)})
                        ws.set_column(j, j, 14, date)
                for i, rec in enumerate(rows, start=1):
                    for j, c in enumerate(cols):
                        v = rec.get(c)
                        if v is None or v == "":
                            continue
                        if isinstance(v, dt.date):
                            ws.write_datetime(i, j, dt.datetime(v.year, v.month, v.day), date)
                        elif isinstance(v, (int, float)) and not isinstance(v, bool):
                            ws.write_number(i, j, v)
                        else:
                            ws.write_string(i, j, str(v))
                ws.freeze_panes(1, 2)
            guide = wb.add_worksheet("说明")
            guide.set_column(0, 0, 120)
            for i, line in enumerate(_HELP):
                guide.write_string(i, 0, line)
            lists.hide()
            wb.worksheets()[1].activate()
            wb.close()
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out
