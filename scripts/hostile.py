"""Large and deep workbooks within intake's limits, for the memory figures (bench and tests).

* ``extra_sheet``: the sample return plus one more sheet of N rows × 5 numbers (200,000 rows is a
  ~3 MB file, ~40 MB of sheet XML): the issue #9 case that took ~900 MB with openpyxl.
* ``long_layout_sheet``: the same rows appended below the scoring table of a sheet ``check``
  does read (it must stop keeping cells after the rows the layout can reach).
* ``nested_string``: a shared string of N nested elements, stored uncompressed so that the
  zip-bomb ratio check lets it through (1,000,000 → ~9 MB): ~700 MB with openpyxl.
"""
from __future__ import annotations

import io
import random
import re
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "party-building-2024-filled.xlsx"


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


def _zip(members: dict[str, bytes], stored: set[str] = frozenset()) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for n, d in members.items():
            z.writestr(n, d, compress_type=zipfile.ZIP_STORED if n in stored else zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def _rows(n: int, first: int = 1) -> str:
    rng = random.Random(7)
    out = []
    for r in range(first, first + n):
        cells = "".join(f'<c r="{c}{r}"><v>{rng.randrange(10**6) / 100}</v></c>' for c in "ABCDE")
        out.append(f'<row r="{r}">{cells}</row>')
    return "".join(out)


def extra_sheet(rows: int = 200_000) -> bytes:
    m = _members(SAMPLE.read_bytes())
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    m["xl/worksheets/sheet99.xml"] = (f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{ns}"><sheetData>'
                                      + _rows(rows) + "</sheetData></worksheet>").encode()
    wb = m["xl/workbook.xml"].decode()
    wb = wb.replace("</sheets>", '<sheet name="数据" sheetId="99" state="visible" r:id="rId99"/></sheets>')
    m["xl/workbook.xml"] = wb.encode()
    rels = m["xl/_rels/workbook.xml.rels"].decode()
    rels = rels.replace("</Relationships>", '<Relationship Id="rId99" Type="http://schemas.openxmlformats.org/'
                        'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet99.xml"/></Relationships>')
    m["xl/_rels/workbook.xml.rels"] = rels.encode()
    ct = m["[Content_Types].xml"].decode()
    ct = ct.replace("</Types>", '<Override PartName="/xl/worksheets/sheet99.xml" ContentType="application/'
                    'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
    m["[Content_Types].xml"] = ct.encode()
    return _zip(m)


def long_layout_sheet(rows: int = 200_000) -> bytes:
    """Rows below the scoring table of sheet5 (评分) of the sample, from row 1000 on."""
    m = _members(SAMPLE.read_bytes())
    xml = m["xl/worksheets/sheet5.xml"].decode()
    xml = xml.replace("</sheetData>", _rows(rows, first=1000) + "</sheetData>", 1)
    m["xl/worksheets/sheet5.xml"] = xml.encode()
    return _zip(m)


def nested_string(depth: int = 1_000_000) -> bytes:
    m = _members(SAMPLE.read_bytes())
    sst = m["xl/sharedStrings.xml"].decode()
    bomb = "<si><t>x</t>" + "<a>" * depth + "</a>" * depth + "</si>"
    sst = re.sub(r"<si>", bomb + "<si>", sst, count=1)
    m["xl/sharedStrings.xml"] = sst.encode()
    return _zip(m, stored={"xl/sharedStrings.xml"})
