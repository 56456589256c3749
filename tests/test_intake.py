"""Tests for workbook_tool.intake: every kind of file a unit might send back.

The corpus is built here in tmp_path (no downloads). For each rejected file we check the code,
exit code 2, a one-line bilingual message, and that the file was not touched.
"""
from __future__ import annotations

import io
import os
import struct
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbook_tool import intake
from workbook_tool.errors import UnreadableFile, WbtoolError
from workbook_tool.findings import CATALOGUE, Finding
from workbook_tool.intake import Intake, read_workbook, sniff


# ---------------------------------------------------------------------------------------------
# Corpus builders
# ---------------------------------------------------------------------------------------------
def xlsx_bytes(custom_props: dict[str, str] | None = None) -> bytes:
    """A small real form workbook written by XlsxWriter (with Chinese text and a formula)."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet("预算")
    ws.write_row(0, 0, ["项目", "金额"])
    ws.write_row(1, 0, ["人员经费", 120.5])
    ws.write_row(2, 0, ["公用经费", 30])
    ws.write_formula(3, 1, "=SUM('预算'!B2:B3)", None, 150.5)
    ws.merge_range("A5:B5", "合计说明")
    for name, value in (custom_props or {}).items():
        wb.set_custom_property(name, value)
    wb.close()
    return buf.getvalue()


def rezip(data: bytes, replace: dict[str, bytes] | None = None,
          add: dict[str, bytes] | None = None, drop: set[str] | None = None) -> bytes:
    """Copy a zip, replacing, adding or dropping members."""
    replace, add, drop = replace or {}, add or {}, drop or set()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename in drop:
                continue
            dst.writestr(info.filename, replace.get(info.filename, src.read(info)))
        for name, content in add.items():
            dst.writestr(name, content)
    return out.getvalue()


def make_zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in members.items():
            z.writestr(name, content)
    return out.getvalue()


CT_HEAD = (b'<?xml version="1.0" encoding="UTF-8"?>'
           b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
           b'<Default Extension="xml" ContentType="application/xml"/>')

DOCX = make_zip({
    "[Content_Types].xml": CT_HEAD + b'<Override PartName="/word/document.xml" ContentType='
    b'"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
    "word/document.xml": b"<w:document xmlns:w='http://schemas.openxmlformats.org/"
    b"wordprocessingml/2006/main'><w:body/></w:document>",
})

XLSB = make_zip({
    "[Content_Types].xml": CT_HEAD + b'<Override PartName="/xl/workbook.bin" ContentType='
    b'"application/vnd.ms-excel.sheet.binary.macroEnabled.main"/></Types>',
    "xl/workbook.bin": b"\x83\x01\x00" * 20,
})

ODS = make_zip({
    "mimetype": b"application/vnd.oasis.opendocument.spreadsheet",
    "content.xml": b"<office:document-content/>",
})

OLE_XLS = intake.OLE_MAGIC + b"\x00" * 504 + "Workbook".encode("utf-16-le") + b"\x00" * 1000
OLE_ENCRYPTED = (intake.OLE_MAGIC + b"\x00" * 504 + "EncryptionInfo".encode("utf-16-le")
                 + b"\x00" * 64 + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 1000)
OLE_DOC = intake.OLE_MAGIC + b"\x00" * 504 + "WordDocument".encode("utf-16-le") + b"\x00" * 1000

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"
 xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
<fileVersion appName="&lol9;"/>
<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"""

XXE_DOCTYPE = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
"""


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def assert_rejected(path: Path, code: str, **kwargs) -> UnreadableFile:
    """read_workbook must raise UnreadableFile(code), exit 2, one-line zh/en, file untouched."""
    before = (path.read_bytes(), os.stat(path).st_mtime_ns) if path.is_file() else None
    dir_mtime = os.stat(path).st_mtime_ns if path.is_dir() else None
    with pytest.raises(UnreadableFile) as info:
        read_workbook(path, **kwargs)
    err = info.value
    assert err.code == code, (err.code, err.zh)
    assert err.exit_code == 2
    for text in (err.zh, err.en, err.message("zh"), err.message("en")):
        assert text and "\n" not in text and "\r" not in text
        assert "{" not in text  # every template placeholder was filled
    assert err.zh != err.en
    if before is not None:
        assert (path.read_bytes(), os.stat(path).st_mtime_ns) == before
    if dir_mtime is not None:
        assert os.stat(path).st_mtime_ns == dir_mtime
    return err


# ---------------------------------------------------------------------------------------------
# Good files
# ---------------------------------------------------------------------------------------------
def test_real_xlsx_loads_both_views(tmp_path):
    data = xlsx_bytes()
    p = write(tmp_path, "预算表.xlsx", data)
    mtime = os.stat(p).st_mtime_ns
    got = read_workbook(p)
    assert isinstance(got, Intake)
    assert got.path == p and got.data == data and got.kind == "xlsx"
    assert isinstance(got.formulas, openpyxl.Workbook)
    assert got.formulas["预算"]["B4"].value == "=SUM('预算'!B2:B3)"
    assert got.values["预算"]["B4"].value == 150.5
    assert "A5:B5" in {str(r) for r in got.formulas["预算"].merged_cells.ranges}
    assert got.flags == []
    assert got.application == "Microsoft Excel" and got.wps is False
    assert p.read_bytes() == data and os.stat(p).st_mtime_ns == mtime


def test_accepts_str_path_and_wrong_extension(tmp_path):
    p = write(tmp_path, "return.dat", xlsx_bytes())
    assert read_workbook(str(p)).kind == "xlsx"


def test_wps_custom_property_detected(tmp_path):
    p = write(tmp_path, "wps.xlsx", xlsx_bytes({"KSOProductBuildVer": "2052-11.1.0.12313"}))
    assert read_workbook(p).wps is True


def test_wps_application_detected(tmp_path):
    data = xlsx_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        app = z.read("docProps/app.xml").replace(b"Microsoft Excel", "WPS 表格".encode())
    p = write(tmp_path, "wps.xlsx", rezip(data, replace={"docProps/app.xml": app}))
    got = read_workbook(p)
    assert got.application == "WPS 表格" and got.wps is True


def test_missing_app_xml_is_fine(tmp_path):
    p = write(tmp_path, "noapp.xlsx", rezip(xlsx_bytes(), drop={"docProps/app.xml"}))
    got = read_workbook(p)
    assert got.application is None and got.wps is False


def test_small_workbook_is_fast(tmp_path):
    p = write(tmp_path, "a.xlsx", xlsx_bytes())
    read_workbook(p)  # warm imports
    start = time.perf_counter()
    read_workbook(p)
    assert time.perf_counter() - start < 0.5


# ---------------------------------------------------------------------------------------------
# Flags (non-fatal)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("member, code", [
    ("xl/vbaProject.bin", "W101"),
    ("xl/externalLinks/externalLink1.xml", "W102"),
    ("xl/activeX/activeX1.xml", "W103"),
    ("xl/embeddings/oleObject1.bin", "W104"),
])
def test_risky_parts_are_flagged_but_loaded(tmp_path, member, code):
    p = write(tmp_path, "flagged.xlsx", rezip(xlsx_bytes(), add={member: b"<x/>"}))
    got = read_workbook(p)
    assert [f.code for f in got.flags] == [code]
    f = got.flags[0]
    assert f.severity == "warning"
    assert "{" not in f.message("zh") and "{" not in f.message("en")
    assert got.formulas["预算"]["A1"].value == "项目"


def test_macro_enabled_content_type_is_xlsm(tmp_path):
    data = xlsx_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        ct = z.read("[Content_Types].xml").replace(
            b"spreadsheetml.sheet.main+xml", b"PLACEHOLDER")
    ct = ct.replace(b"application/vnd.openxmlformats-officedocument.PLACEHOLDER",
                    b"application/vnd.ms-excel.sheet.macroEnabled.main+xml")
    data = rezip(data, replace={"[Content_Types].xml": ct}, add={"xl/vbaProject.bin": b"\0" * 64})
    got = read_workbook(write(tmp_path, "macro.xlsx", data))
    assert got.kind == "xlsm" and [f.code for f in got.flags] == ["W101"]


# ---------------------------------------------------------------------------------------------
# Rejected files
# ---------------------------------------------------------------------------------------------
CSV_GBK = "单位名称,金额\n某某局,100\n".encode("gb18030")


@pytest.mark.parametrize("name, data, code", [
    ("old.xlsx", OLE_XLS, "F110"),
    ("locked.xlsx", OLE_ENCRYPTED, "F111"),
    ("word.xls", OLE_DOC, "F114"),
    ("binary.xlsx", XLSB, "F112"),
    ("scan.xlsx", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "F113"),
    ("report.xlsx", DOCX, "F114"),
    ("sheet.xlsx", ODS, "F114"),
    ("archive.xlsx", make_zip({"a/表.xlsx": b"PK..."}), "F114"),
    ("data.xlsx", CSV_GBK, "F115"),
    ("data-utf8.xlsx", "\ufeff单位,金额\n甲,1\n".encode("utf-8"), "F115"),
    ("export.xls", b"<html><body><table><tr><td>1</td></tr></table></body></html>", "F115"),
    ("empty.xlsx", b"", "F104"),
    ("noise.xlsx", bytes(range(256)) * 4, "F120"),
])
def test_wrong_formats(tmp_path, name, data, code):
    assert_rejected(write(tmp_path, name, data), code)


def test_messages_are_specific(tmp_path):
    old = assert_rejected(write(tmp_path, "a.xlsx", OLE_XLS), "F110")
    assert ".xls" in old.zh and "另存为" in old.zh and "Save As" in old.en
    enc = assert_rejected(write(tmp_path, "b.xlsx", OLE_ENCRYPTED), "F111")
    assert "密码" in enc.zh and "password" in enc.en
    doc = assert_rejected(write(tmp_path, "c.xlsx", DOCX), "F114")
    assert "Word" in doc.zh and "Word" in doc.en
    ods = assert_rejected(write(tmp_path, "d.xlsx", ODS), "F114")
    assert ".ods" in ods.zh
    html = assert_rejected(write(tmp_path, "e.xls", b"  <table></table>"), "F115")
    assert "HTML" in html.zh


def test_truncated_xlsx(tmp_path):
    data = xlsx_bytes()
    assert_rejected(write(tmp_path, "half.xlsx", data[: len(data) // 2]), "F116")


def test_corrupt_member_crc(tmp_path):
    """Flipping bytes inside a deflated member: zipfile's CRC check reports damage."""
    data = bytearray(xlsx_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        info = z.getinfo("xl/worksheets/sheet1.xml")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 5, start + 15):
        data[i] ^= 0xFF
    assert_rejected(write(tmp_path, "crc.xlsx", bytes(data)), "F116")


def test_directory(tmp_path):
    d = tmp_path / "folder.xlsx"
    d.mkdir()
    assert_rejected(d, "F102")


def test_missing_path(tmp_path):
    assert_rejected(tmp_path / "nope.xlsx", "F101")
    assert_rejected(tmp_path / "nope" / "deeper.xlsx", "F101")


def test_path_with_nul_byte(tmp_path):
    with pytest.raises(UnreadableFile) as info:
        read_workbook(str(tmp_path) + "/bad\0name.xlsx")
    assert info.value.code == "F101"


def test_special_file(tmp_path):
    fifo = tmp_path / "pipe.xlsx"
    os.mkfifo(fifo)
    with pytest.raises(UnreadableFile) as info:
        read_workbook(fifo)  # must not block
    assert info.value.code == "F102"


def test_permission_denied_simulated(tmp_path, monkeypatch):
    """Tests run as root in CI, and root reads chmod-000 files: simulate the failing open() instead."""
    p = write(tmp_path, "secret.xlsx", xlsx_bytes())

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(intake, "open", denied, raising=False)
    assert_rejected(p, "F103")


def test_io_error_simulated(tmp_path, monkeypatch):
    p = write(tmp_path, "flaky.xlsx", xlsx_bytes())

    def broken(*args, **kwargs):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(intake, "open", broken, raising=False)
    err = assert_rejected(p, "F103")
    assert "Input/output error" in err.en


def test_too_large_refused_before_reading(tmp_path, monkeypatch):
    p = write(tmp_path, "big.xlsx", xlsx_bytes())

    def must_not_open(*args, **kwargs):
        raise AssertionError("file opened although stat said it is too large")

    monkeypatch.setattr(intake, "open", must_not_open, raising=False)
    err = assert_rejected(p, "F105", max_bytes=1000)
    assert "MB" in err.zh
    monkeypatch.setattr(intake, "MAX_FILE_BYTES", 1000)
    assert_rejected(p, "F105")


# ---------------------------------------------------------------------------------------------
# Zip bombs
# ---------------------------------------------------------------------------------------------
def test_zip_bomb_ratio(tmp_path):
    """2 MB of zeros deflates to ~2 KB: far over 200:1 (real limits, still a small test)."""
    data = rezip(xlsx_bytes(), add={"xl/media/pad.bin": b"\0" * (2 * 1024 * 1024)})
    err = assert_rejected(write(tmp_path, "bomb.xlsx", data), "F117")
    assert "xl/media/pad.bin" in err.en


def test_zip_bomb_ratio_streamed_large(tmp_path, monkeypatch):
    """A sheet member inflating to 300 MB, written in chunks; refused before openpyxl runs."""
    p = tmp_path / "bomb300.xlsx"
    with zipfile.ZipFile(io.BytesIO(xlsx_bytes())) as src, \
            zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                dst.writestr(info.filename, src.read(info))
        with dst.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            chunk = b" " * (1024 * 1024)
            for _ in range(300):
                member.write(chunk)
    assert p.stat().st_size < 2 * 1024 * 1024

    def no_parse(*a, **k):
        raise AssertionError("openpyxl must not see a zip bomb")

    monkeypatch.setattr(intake.openpyxl, "load_workbook", no_parse)
    assert_rejected(p, "F117")


def test_zip_total_size_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(intake, "MAX_TOTAL_UNCOMPRESSED", 64 * 1024)
    monkeypatch.setattr(intake, "MAX_MEMBER_UNCOMPRESSED", 10 * 1024 * 1024)
    data = rezip(xlsx_bytes(), add={"xl/media/image1.bin": os.urandom(100 * 1024)})
    assert_rejected(write(tmp_path, "huge.xlsx", data), "F117")


def test_zip_too_many_members(tmp_path, monkeypatch):
    monkeypatch.setattr(intake, "MAX_ZIP_MEMBERS", 20)
    extra = {f"xl/media/m{i}.bin": b"x" for i in range(30)}
    err = assert_rejected(write(tmp_path, "many.xlsx", rezip(xlsx_bytes(), add=extra)), "F117")
    assert "20" in err.en


def _patch_central_sizes(data: bytes, name: str, compressed: int | None, uncompressed: int) -> bytes:
    """Rewrite a member's sizes in the central directory (what zipfile trusts)."""
    buf = bytearray(data)
    needle = b"PK\x01\x02"
    pos = buf.find(needle)
    while pos != -1:
        name_len = struct.unpack_from("<H", buf, pos + 28)[0]
        if bytes(buf[pos + 46: pos + 46 + name_len]).decode() == name:
            if compressed is not None:
                struct.pack_into("<I", buf, pos + 20, compressed)
            struct.pack_into("<I", buf, pos + 24, uncompressed)
            return bytes(buf)
        pos = buf.find(needle, pos + 4)
    raise AssertionError(f"{name} not found")


def test_absurd_declared_size(tmp_path):
    data = _patch_central_sizes(xlsx_bytes(), "xl/styles.xml", None, 0x7FFFFFFF)
    err = assert_rejected(write(tmp_path, "liar.xlsx", data), "F117")
    assert "xl/styles.xml" in err.en


def test_declared_size_smaller_than_real_is_damage(tmp_path):
    """zipfile stops at the declared size, then the CRC fails: reported as damaged, not parsed."""
    data = xlsx_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        info = z.getinfo("xl/worksheets/sheet1.xml")
    data = _patch_central_sizes(data, info.filename, None, info.file_size // 2)
    assert_rejected(write(tmp_path, "short.xlsx", data), "F116")


def test_zip_encrypted_member(tmp_path):
    data = bytearray(xlsx_bytes())
    pos = data.find(b"PK\x01\x02")
    data[pos + 8] |= 0x01  # general purpose flag: encrypted
    assert_rejected(write(tmp_path, "zipcrypto.xlsx", bytes(data)), "F111")


# ---------------------------------------------------------------------------------------------
# XML attacks and unparseable content
# ---------------------------------------------------------------------------------------------
def test_billion_laughs_rejected_without_expansion(tmp_path):
    p = write(tmp_path, "lol.xlsx", rezip(xlsx_bytes(), replace={"xl/workbook.xml": BILLION_LAUGHS}))
    start = time.perf_counter()
    err = assert_rejected(p, "F118")
    assert time.perf_counter() - start < 2
    assert err.code in ("F118", "F119")


def test_external_entity_rejected(tmp_path):
    sst = (XXE_DOCTYPE + b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
           b' count="1" uniqueCount="1"><si><t>&xxe;</t></si></sst>')
    p = write(tmp_path, "xxe.xlsx", rezip(xlsx_bytes(), replace={"xl/sharedStrings.xml": sst}))
    err = assert_rejected(p, "F118")
    assert "root:" not in err.zh + err.en


def test_entity_attack_in_app_xml_rejected(tmp_path):
    """docProps/app.xml is parsed by intake itself (openpyxl ignores it): same protection."""
    app = XXE_DOCTYPE + b"<Properties><Application>&xxe;</Application></Properties>"
    p = write(tmp_path, "xxe-app.xlsx", rezip(xlsx_bytes(), replace={"docProps/app.xml": app}))
    assert_rejected(p, "F118")


def test_openpyxl_boundary_maps_defused_errors(tmp_path, monkeypatch):
    """Even without intake's own pre-scan, defusedxml inside openpyxl stops the attack (F118)."""
    monkeypatch.setattr(intake, "_check_expanding_ranges", lambda archive: None)
    p = write(tmp_path, "lol.xlsx", rezip(xlsx_bytes(), replace={"xl/workbook.xml": BILLION_LAUGHS}))
    assert_rejected(p, "F118")


def _sheet_with(tail: bytes) -> bytes:
    """The corpus workbook with extra elements where its <mergeCells> block was."""
    data = xlsx_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        sheet = z.read("xl/worksheets/sheet1.xml")
    start, end = sheet.index(b"<mergeCells"), sheet.index(b"</mergeCells>") + len(b"</mergeCells>")
    return rezip(data, replace={"xl/worksheets/sheet1.xml": sheet[:start] + tail + sheet[end:]})


@pytest.mark.parametrize("tail", [
    b'<mergeCells count="1"><mergeCell ref="A1:XFD1048576"/></mergeCells>',
    b'<mergeCells count="1"><mergeCell ref="&#65;1:&#88;FD1048576"/></mergeCells>',  # char refs
    b'<x:mergeCells xmlns:x="urn:any"><x:mergeCell ref="A:XFD"/></x:mergeCells>',
    b'<hyperlinks><hyperlink ref="A1:Z1048576" display="x"/></hyperlinks>',
])
def test_cell_bombs_refused_before_openpyxl(tmp_path, monkeypatch, tail):
    """A 40-byte merged range over the whole sheet would make openpyxl build 17e9 cells."""
    def no_parse(*a, **k):
        raise AssertionError("openpyxl must not see a cell bomb")

    monkeypatch.setattr(intake.openpyxl, "load_workbook", no_parse)
    start = time.perf_counter()
    assert_rejected(write(tmp_path, "cells.xlsx", _sheet_with(tail)), "F121")
    assert time.perf_counter() - start < 1


def test_ordinary_merges_and_links_pass(tmp_path):
    tail = (b'<mergeCells count="2"><mergeCell ref="A5:B5"/><mergeCell ref="C1:D200"/></mergeCells>'
            b'<hyperlinks><hyperlink ref="A1" display="x" location="\'\xe9\xa2\x84\xe7\xae\x97\'!A1"/>'
            b'</hyperlinks>')
    got = read_workbook(write(tmp_path, "ok.xlsx", _sheet_with(tail)))
    assert len(got.formulas["预算"].merged_cells.ranges) == 2


def test_garbage_workbook_part(tmp_path):
    p = write(tmp_path, "bad.xlsx", rezip(xlsx_bytes(), replace={"xl/workbook.xml": b"not xml <"}))
    err = assert_rejected(p, "F119")
    # in words a unit understands, without the parser's exception text (which stays in the JSON values)
    assert err.zh.startswith("文件内部结构已损坏，无法读取") and "Error" not in err.zh and "Error" not in err.en


def test_missing_content_types_but_workbook_part(tmp_path):
    p = write(tmp_path, "noct.xlsx", rezip(xlsx_bytes(), drop={"[Content_Types].xml"}))
    assert_rejected(p, "F119")


def test_defusedxml_required(tmp_path, monkeypatch):
    p = write(tmp_path, "ok.xlsx", xlsx_bytes())
    monkeypatch.setattr(openpyxl, "DEFUSEDXML", False)
    with pytest.raises(WbtoolError) as info:
        read_workbook(p)
    err = info.value
    assert err.code == "F100" and err.exit_code == 2
    assert "defusedxml" in err.zh and "pip install defusedxml" in err.zh
    assert "pip install defusedxml" in err.en and "\n" not in err.zh


# ---------------------------------------------------------------------------------------------
# sniff() and the catalogue
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("data, kind", [
    (b"", "empty"),
    (OLE_XLS, "ole"),
    (OLE_DOC, "ole"),
    (OLE_ENCRYPTED, "ole-encrypted"),
    (XLSB, "xlsb"),
    (DOCX, "zip-other"),
    (ODS, "zip-other"),
    (b"%PDF-1.7\n", "pdf"),
    (CSV_GBK, "csv/text"),
    ("\t单位\n".encode("utf-16"), "csv/text"),
    (b"PK\x03\x04" + b"\0" * 100, "zip-damaged"),
    (b"\x00\x01\x02\x03" * 100, "unknown"),
])
def test_sniff(data, kind):
    assert sniff(data) == kind


def test_sniff_real_xlsx():
    assert sniff(xlsx_bytes()) == "xlsx"


def test_catalogue_codes_registered():
    expected = {f"F{n}" for n in (100, 101, 102, 103, 104, 105, 110, 111, 112, 113, 114, 115,
                                  116, 117, 118, 119, 120, 121)} | {"W101", "W102", "W103", "W104"}
    assert expected <= set(CATALOGUE)
    for code in expected:
        c = CATALOGUE[code]
        assert c.severity == ("error" if code.startswith("F") else "warning")
        for text in (c.title_zh, c.title_en, c.zh, c.en):
            assert text and "\n" not in text
    assert Finding("W102", values={"count": 2}).message("en").startswith("The workbook links to 2")


# ---------------------------------------------------------------------------------------------
# Fuzz: damaged variants of a real file never escape as anything but UnreadableFile
# ---------------------------------------------------------------------------------------------
_GOOD = xlsx_bytes()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(0, len(_GOOD)),
       flips=st.lists(st.tuples(st.integers(0, len(_GOOD) - 1), st.integers(1, 255)), max_size=4))
def test_fuzz_damaged_xlsx(tmp_path, cut, flips):
    data = bytearray(_GOOD)
    for pos, mask in flips:
        data[pos] ^= mask
    p = tmp_path / "fuzz.xlsx"
    p.write_bytes(bytes(data[:cut] if cut < len(data) and not flips else data))
    try:
        read_workbook(p)
    except UnreadableFile as err:
        assert err.exit_code == 2 and "\n" not in err.zh and "\n" not in err.en
