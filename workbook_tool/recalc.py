"""Recalculate workbooks in LibreOffice headless: the independent engine the tests prove formulas on.

LibreOffice keeps cached xlsx results unless told otherwise, so each call uses a throw-away profile
whose settings force recalculation on load (compat.md), and converts many files in one process.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .errors import WbtoolError

_XCU = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


def find_soffice() -> str | None:
    for name in ("soffice", "libreoffice"):
        p = shutil.which(name)
        if p:
            return p
    for p in ("/usr/bin/soffice", "/usr/lib/libreoffice/program/soffice", "/opt/libreoffice/program/soffice"):
        if os.path.exists(p):
            return p
    return None


def recalculate(paths: list[Path], outdir: Path, timeout: float = 600) -> list[Path]:
    """Open each file in LibreOffice, recalculate, save as xlsx into ``outdir``; returns the new paths.

    The inputs are never modified (LibreOffice writes converted copies into another folder).
    """
    soffice = find_soffice()
    if soffice is None:
        raise WbtoolError("R001", "未找到 LibreOffice（soffice）：请先安装 libreoffice-calc-nogui",
                          "LibreOffice (soffice) not found: install libreoffice-calc-nogui")
    outdir.mkdir(parents=True, exist_ok=True)
    for p in paths:
        if Path(p).resolve().parent == outdir.resolve():
            raise ValueError("outdir must differ from the inputs' folder (LibreOffice would overwrite them)")
    with tempfile.TemporaryDirectory(prefix="wbtool-lo-") as profile:
        user = Path(profile) / "user"
        user.mkdir(parents=True)
        (user / "registrymodifications.xcu").write_text(_XCU, encoding="utf-8")
        cmd = [soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--norestore", "--nolockcheck",
               "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", str(outdir), *map(str, paths)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "HOME": profile})
    out = [outdir / (Path(p).stem + ".xlsx") for p in paths]
    missing = [str(p) for p in out if not p.exists()]
    if missing:
        raise WbtoolError("R002", f"LibreOffice 未能转换：{missing}；输出：{proc.stdout[-500:]}{proc.stderr[-500:]}",
                          f"LibreOffice did not convert {missing}: {proc.stdout[-500:]}{proc.stderr[-500:]}")
    return out
