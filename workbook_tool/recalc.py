"""Recalculate workbooks in real spreadsheet engines: the independent engines the tests prove formulas on.

Two engines whose arithmetic differs (compat.md): LibreOffice (15-digit ROUND, approximate
comparisons) and Gnumeric (extended precision, exact comparisons). A formula that gives the
decimal answer on both is very likely to give it in Excel and WPS too.

LibreOffice keeps cached xlsx results unless told otherwise, so each call uses a throw-away profile
whose settings force recalculation on load, and converts many files in one process. Gnumeric's
``ssconvert --recalc`` converts one file per process; files are spread over the machine's cores.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
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


ENGINES = ("libreoffice", "gnumeric")


def find_ssconvert() -> str | None:
    return shutil.which("ssconvert") or (p if os.path.exists(p := "/usr/bin/ssconvert") else None)


def recalculate_with(engine: str, paths: list[Path], outdir: Path, timeout: float = 600) -> list[Path]:
    """Recalculate ``paths`` into ``outdir`` (same file names) with ``engine`` (one of ENGINES)."""
    if engine == "libreoffice":
        return recalculate(paths, outdir, timeout)
    if engine == "gnumeric":
        return recalculate_gnumeric(paths, outdir, timeout)
    raise ValueError(f"unknown engine {engine!r}")


def recalculate_gnumeric(paths: list[Path], outdir: Path, timeout: float = 600) -> list[Path]:
    """Open each file in Gnumeric (``ssconvert --recalc``), save the recalculated xlsx into ``outdir``."""
    ssconvert = find_ssconvert()
    if ssconvert is None:
        raise WbtoolError("R003", "未找到 Gnumeric（ssconvert）：请先安装 gnumeric",
                          "Gnumeric (ssconvert) not found: install gnumeric")
    outdir.mkdir(parents=True, exist_ok=True)
    _refuse_same_folder(paths, outdir)

    def one(p: Path) -> tuple[Path, str]:
        out = outdir / (Path(p).stem + ".xlsx")
        with tempfile.TemporaryDirectory(prefix="wbtool-gn-") as home:
            # (GLib warnings on stderr are normal: the output file is what counts)
            proc = subprocess.run([ssconvert, "--recalc", "--export-type=Gnumeric_Excel:xlsx2", str(p), str(out)],
                                  capture_output=True, text=True, timeout=timeout,
                                  env={**os.environ, "HOME": home, "NO_AT_BRIDGE": "1"})
        return out, proc.stderr[-500:]

    with ThreadPoolExecutor(max(1, os.cpu_count() or 1)) as ex:
        done = list(ex.map(one, paths))
    missing = [(str(o), err) for o, err in done if not o.exists()]
    if missing:
        raise WbtoolError("R004", f"Gnumeric 未能转换：{missing}", f"Gnumeric did not convert {missing}")
    return [o for o, _ in done]


def _refuse_same_folder(paths: list[Path], outdir: Path) -> None:
    for p in paths:
        if Path(p).resolve().parent == outdir.resolve():
            raise ValueError("outdir must differ from the inputs' folder (the engine would overwrite them)")


def recalculate(paths: list[Path], outdir: Path, timeout: float = 600) -> list[Path]:
    """Open each file in LibreOffice, recalculate, save as xlsx into ``outdir``; returns the new paths.

    The inputs are never modified (LibreOffice writes converted copies into another folder).
    """
    soffice = find_soffice()
    if soffice is None:
        raise WbtoolError("R001", "未找到 LibreOffice（soffice）：请先安装 libreoffice-calc-nogui",
                          "LibreOffice (soffice) not found: install libreoffice-calc-nogui")
    outdir.mkdir(parents=True, exist_ok=True)
    _refuse_same_folder(paths, outdir)
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
