"""Build a demonstration inbox, collect it, and render the summary's 总览 and 排名 as PNG for docs/.

Run by scripts/make-docs.sh. Needs LibreOffice (recalculation, PDF) and pdftoppm (poppler-utils).
Twelve units of a fictitious office: most clean, some faulty, one tampered, one never recalculated,
one sends twice, one sends a PDF, two never answer.
"""
from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import openpyxl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbook_tool.layout import build_layout  # noqa: E402
from workbook_tool.project import load_project_file, parse_project, strip_fill  # noqa: E402
from workbook_tool.recalc import find_soffice, recalculate  # noqa: E402
from workbook_tool.template import load_template  # noqa: E402
from workbook_tool.writer import write_workbook  # noqa: E402

UNITS = ["市工商业联合会", "市妇女联合会", "市残疾人联合会", "市科学技术协会", "市文学艺术界联合会", "市红十字会",
         "市归国华侨联合会", "市社会科学界联合会", "市总工会", "市青年联合会", "市侨务办公室", "市档案馆", "市地方志办公室",
         "市老干部活动中心"]
PROJECTS = ["党建工作经费", "妇女儿童关爱经费", "残疾人康复补助", "科普活动经费", "文艺创作扶持资金", "应急救护培训经费",
            "侨务工作经费", "社科课题研究经费", "职工帮扶资金", "青年创业扶持", "侨务宣传经费", "档案数字化经费",
            "地方志编纂经费", "老干部活动经费"]


def main() -> None:
    out_docs = ROOT / "docs"
    tpl = load_template("dept-eval")
    L = build_layout(tpl)
    seed = load_project_file(ROOT / "samples" / "party-building-2024.yaml")
    with tempfile.TemporaryDirectory(prefix="wbtool-docs-") as t:
        tmp = Path(t)
        src, inbox = tmp / "src", tmp / "回收"
        src.mkdir()
        inbox.mkdir()
        roster = []
        for i, (unit, name) in enumerate(zip(UNITS, PROJECTS)):
            data = {**seed, "project": {**seed["project"], "name": f"2024年{name}", "unit": unit, "department": unit}}
            data["indicators"] = [dict(x) for x in seed["indicators"]]
            factor = 1 - 0.03 * (i % 5)
            items = [{**it, "spent": round(it["spent"] * factor, 2)} if "spent" in it else dict(it)
                     for it in seed["funds"].get("items", [])]
            total = dict(seed["funds"]["total"])
            total["spent"] = round(sum(it.get("spent", 0) for it in items), 2) if items else round(total["spent"] * factor, 2)
            data["funds"] = {**seed["funds"], "total": total, "items": items}
            for ind in data["indicators"]:
                if "actual" in ind and isinstance(ind["actual"], (int, float)) and i % 3 == 1:
                    ind["actual"] = ind["actual"] * 0.85
                    ind["explain"] = "受疫情影响部分活动延期"
            if i == 4:
                data["indicators"][10]["actual"] = "800余册"
            pr = parse_project(data, tpl, name)
            roster.append([f"2024年{name}", unit, unit, 2024, f"{unit}.xlsx"])
            if i >= 12:
                continue  # two units never answer
            write_workbook(src / f"{unit}.xlsx", tpl, pr if i != 6 else strip_fill(pr))
        files = sorted(src.glob("*.xlsx"))
        never = src / f"{UNITS[7]}.xlsx"
        outs = recalculate([f for f in files if f != never], tmp / "lo")
        for p in outs:
            shutil.copy(p, inbox / p.name)
        shutil.copy(never, inbox / never.name)
        wb = openpyxl.load_workbook(inbox / f"{UNITS[5]}.xlsx")  # tampered: a score typed over its formula
        r = list(L.rows())[10]
        wb[L.sheet("scoring")][L.a1(L.slots["score"], r)] = 5
        wb.save(tmp / "tampered.xlsx")
        (inbox / f"{UNITS[5]}.xlsx").unlink()
        shutil.copy(recalculate([tmp / "tampered.xlsx"], tmp / "lo2")[0], inbox / f"{UNITS[5]}.xlsx")
        shutil.copy(inbox / f"{UNITS[0]}.xlsx", inbox / f"{UNITS[0]} (1).xlsx")
        (inbox / "自评报告.pdf").write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        with (tmp / "名单.csv").open("w", encoding="utf-8-sig", newline="") as f:
            w = csv.writer(f)
            w.writerow(["项目名称", "主管部门", "实施单位", "年度", "文件名"])
            w.writerows(roster[:13])  # the last unit was never on the roster... but returns nothing either
        summary = tmp / "汇总.xlsx"
        subprocess.run([sys.executable, "-m", "workbook_tool", "collect", str(inbox), "--roster", str(tmp / "名单.csv"),
                        "-o", str(summary), "-q"], check=True, cwd=ROOT)
        shutil.copy(summary, out_docs / "collect-example.xlsx")
        render(summary, tmp, out_docs)


def render(summary: Path, tmp: Path, out_docs: Path) -> None:
    """LibreOffice → PDF (one page per sheet: fit to width), pdftoppm → PNG of the first two pages."""
    soffice = find_soffice()
    if soffice is None or shutil.which("pdftoppm") is None:
        raise SystemExit("needs LibreOffice and pdftoppm (apt-get install libreoffice-calc-nogui poppler-utils)")
    profile = tmp / "profile"
    subprocess.run([soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
                    "--convert-to", "pdf", "--outdir", str(tmp / "pdf"), str(summary)], check=True, capture_output=True)
    pdf = tmp / "pdf" / (summary.stem + ".pdf")
    for page, name in ((1, "collect-overview"), (2, "collect-ranking")):
        subprocess.run(["pdftoppm", "-png", "-r", "110", "-f", str(page), "-l", str(page), "-singlefile", str(pdf),
                        str(out_docs / name)], check=True)
        print(out_docs / f"{name}.png")


if __name__ == "__main__":
    main()
