#!/usr/bin/env python3
"""Render what an office will send and receive as pictures: each built-in template's sheets, and the report draft.

LibreOffice (recalculating, see workbook_tool/recalc.py) → PDF → pdftoppm → PNG. Writes
docs/img/<template>-<sheet>.png (one picture per printed sheet page, first page of each sheet) and,
with --samples, samples/party-building-2024-report.docx and its first pages as PNG.
Needs libreoffice-calc-nogui, libreoffice-writer-nogui (for .docx), poppler-utils and fonts-noto-cjk.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbook_tool.labels import label  # noqa: E402
from workbook_tool.layout import SHEETS  # noqa: E402
from workbook_tool.project import load_project_file, parse_project  # noqa: E402
from workbook_tool.recalc import _XCU, find_soffice, recalculate  # noqa: E402
from workbook_tool.template import load_template  # noqa: E402
from workbook_tool.writer import write_workbook  # noqa: E402

EXAMPLES = {"self-eval": ROOT / "samples" / "road-maintenance-2024.yaml",
            "dept-eval": ROOT / "samples" / "party-building-2024.yaml"}
PRINTED = [k for k in SHEETS if k not in ("lists", "meta")]


def to_pdf(paths: list[Path], outdir: Path) -> list[Path]:
    """One LibreOffice process converts them all (xlsx: every printed sheet; docx: the document)."""
    with tempfile.TemporaryDirectory(prefix="wbtool-pdf-") as profile:
        (Path(profile) / "user").mkdir()
        (Path(profile) / "user" / "registrymodifications.xcu").write_text(_XCU, encoding="utf-8")
        subprocess.run([find_soffice(), f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
                        "--nolockcheck", "--convert-to", "pdf", "--outdir", str(outdir), *map(str, paths)],
                       check=True, capture_output=True, timeout=600, env={**os.environ, "HOME": profile})
    return [outdir / (p.stem + ".pdf") for p in paths]


def page_texts(pdf: Path) -> list[str]:
    out = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    return out.split("\f")


def png(pdf: Path, page: int, dest: Path, dpi: int = 60) -> None:
    stem = dest.with_suffix("")
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", "-singlefile", "-f", str(page), "-l", str(page), str(pdf),
                    str(stem)], check=True)


def render_templates(work: Path, img: Path) -> None:
    books = []
    for tid, project in EXAMPLES.items():
        tpl = load_template(tid)
        p = work / f"{tid}.xlsx"
        write_workbook(p, tpl, parse_project(load_project_file(project), tpl, project.name), "zh", force=True)
        books.append((tid, p))
    recalced = recalculate([p for _, p in books], work / "lo")
    for (tid, _), pdf in zip(books, to_pdf(recalced, work / "pdf")):
        texts = page_texts(pdf)
        for key in PRINTED:  # the page header carries the sheet name (&A, right): first page of each sheet
            name = label(f"sheet.{key}")
            page = next((i + 1 for i, t in enumerate(texts) if t.strip() and t.splitlines()[0].rstrip().endswith(name)), None)
            if page is not None:
                png(pdf, page, img / f"{tid}-{key}.png", 70 if key == "form" else 60)
                print(img / f"{tid}-{key}.png")


def render_report(work: Path) -> None:
    from workbook_tool.docreport import write_report

    filled = ROOT / "samples" / "party-building-2024-filled.xlsx"
    out = ROOT / "samples" / "party-building-2024-report.docx"
    write_report(filled, out, "zh", overwrite=True)
    [pdf] = to_pdf([out], work / "pdf")
    for page in (1, 2, 3):
        png(pdf, page, ROOT / "samples" / f"party-building-2024-report-p{page}.png")
    shutil.copy(ROOT / "samples" / "party-building-2024-report-p2.png", ROOT / "docs" / "img" / "report-p2.png")
    print(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", action="store_true", help="also write the seed's report draft and its pages into samples/")
    args = ap.parse_args()
    for tool in ("pdftoppm", "pdftotext"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: apt-get install poppler-utils")
    img = ROOT / "docs" / "img"
    img.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="wbtool-render-") as tmp:
        render_templates(Path(tmp), img)
        if args.samples:
            render_report(Path(tmp))


if __name__ == "__main__":
    main()
