"""The one door through which wbtool reads a workbook it did not write.

Units e-mail back whatever their office software produced: real .xlsx files, but also old .xls /
WPS .et files, password-protected files, CSV or HTML exports renamed to .xlsx, PDFs, half-downloaded
attachments and, occasionally, something hostile. Every command reads such files through
:func:`read_workbook`, which

* never writes to the file (one read-only ``open``, the bytes are read once, mtime untouched);
* decides the format by content, not by the file name (:func:`sniff`);
* refuses oversized files before reading them, and zip bombs and "cell bombs" (huge merged
  ranges) before openpyxl inflates anything;
* insists that openpyxl parses XML through defusedxml (entity attacks);
* turns every failure into :class:`~workbook_tool.errors.UnreadableFile` with a stable ``F1xx``
  code and a one-line Chinese / English message telling the unit what to do — no traceback;
* notes non-fatal risks (macros, external links, ActiveX, embedded objects) as ``W1xx`` findings.

Limits are module-level constants so the CLI (or a test) can tune them.
"""
from __future__ import annotations

import codecs
import contextlib
import io
import re
import stat
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    import openpyxl
from xml.parsers import expat

from .a1 import range_boundaries

from .errors import UnreadableFile, WbtoolError
from .findings import CATALOGUE, ERROR, WARNING, Code, Finding, register

try:  # imported defensively: a missing defusedxml must give a clear message, not an ImportError
    from defusedxml.common import DefusedXmlException
    from defusedxml.ElementTree import fromstring as _safe_fromstring
except ImportError:  # pragma: no cover - exercised only on a broken installation
    DefusedXmlException = None  # type: ignore[assignment,misc]
    _safe_fromstring = None  # type: ignore[assignment]

# --------------------------------------------------------------------------------------------
# Limits. A returned budget form is a few hundred KB; these leave a wide margin for legitimate
# workbooks while keeping a hostile one from eating the machine's memory.
# --------------------------------------------------------------------------------------------
MAX_FILE_BYTES = 50 * 1024 * 1024           # refused before it is read (stat first)
MAX_ZIP_MEMBERS = 2000                       # parts inside the xlsx package
MAX_TOTAL_UNCOMPRESSED = 200 * 1024 * 1024   # sum of declared uncompressed sizes
MAX_MEMBER_UNCOMPRESSED = MAX_TOTAL_UNCOMPRESSED  # one part declaring more than this is absurd
MAX_COMPRESSION_RATIO = 200                  # uncompressed : compressed, per member ...
RATIO_CHECK_MIN_BYTES = 1024 * 1024          # ... only for members bigger than this
MAX_SMALL_PART_BYTES = 1024 * 1024           # parts we parse ourselves (content types, docProps)
# openpyxl creates one cell object per cell of every merged range and of every range hyperlink,
# so a 40-byte <mergeCell ref="A1:XFD1048576"/> would run it out of memory. About 100 000 such
# cells take ~1.5 s per load here; a form needs far fewer.
MAX_EXPANDED_CELLS = 100_000
# ... and it matches each single-cell hyperlink against every merged range (quadratic).
MAX_MERGE_LINK_PRODUCT = 5_000_000

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_TEXT_SNIFF_BYTES = 8192

# Main-part content types of workbooks ([Content_Types].xml Override for the workbook part).
_XML_WORKBOOK_TYPES = {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": "xlsx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml": "xlsx",
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml": "xlsm",
    "application/vnd.ms-excel.template.macroEnabled.main+xml": "xlsm",
}
_BINARY_WORKBOOK_TYPE = "application/vnd.ms-excel.sheet.binary.macroEnabled.main"

LOADABLE_KINDS = ("xlsx", "xlsm")

# Raised by zipfile/zlib while inflating a member whose bytes are corrupt or cut short.
_DAMAGE_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError)

# --------------------------------------------------------------------------------------------
# Catalogue codes
# --------------------------------------------------------------------------------------------
_RESAVE_ZH = "请在 Excel/WPS 中“另存为” Excel 工作簿 (.xlsx) 后重新发送"
_RESAVE_EN = "open it in Excel/WPS, 'Save As' Excel Workbook (.xlsx) and send it again"

register(
    Code("F100", ERROR, "缺少 defusedxml", "defusedxml missing",
         "defusedxml 未安装或被 OPENPYXL_DEFUSEDXML 关闭，无法安全读取外来的 Excel 文件："
         "请运行 pip install defusedxml（并不要设置 OPENPYXL_DEFUSEDXML=False）",
         "defusedxml is not installed or disabled by OPENPYXL_DEFUSEDXML, so untrusted Excel "
         "files cannot be read safely: run pip install defusedxml (and unset OPENPYXL_DEFUSEDXML)"),
    Code("F101", ERROR, "文件不存在", "File not found",
         "找不到该文件：请检查路径和文件名是否正确",
         "File not found: check the path and the file name"),
    Code("F102", ERROR, "不是文件", "Not a file",
         "这是一个文件夹，不是文件：请指定其中的 .xlsx 文件",
         "This is a folder, not a file: give the path of an .xlsx file inside it"),
    Code("F103", ERROR, "无权读取", "Permission denied",
         "没有读取该文件的权限：请检查文件权限，或把文件复制到可读取的位置后重试",
         "No permission to read this file: check its permissions or copy it somewhere readable"),
    Code("F104", ERROR, "空文件", "Empty file",
         "文件是空的（0 字节），可能下载或保存失败：请重新下载附件，或请单位重新保存后发送",
         "The file is empty (0 bytes), probably a failed download or save: download it again or "
         "ask the unit to save and resend it"),
    Code("F105", ERROR, "文件过大", "File too large",
         "文件过大（{size_mb} MB，上限 {limit_mb} MB），不像是本表格：请确认文件无误，删除无关的"
         "工作表或图片后重新发送",
         "The file is too large ({size_mb} MB, limit {limit_mb} MB) for this form: check it is the "
         "right file, remove unrelated sheets or pictures and send it again"),
    Code("F110", ERROR, "旧版 xls/et 文件", "Old .xls/.et file",
         "这是旧版 Excel 97-2003 (.xls) 或 WPS (.et) 文件，不是 .xlsx：" + _RESAVE_ZH,
         "This is an old Excel 97-2003 (.xls) or WPS (.et) file, not .xlsx: " + _RESAVE_EN),
    Code("F111", ERROR, "文件已加密", "Encrypted file",
         "文件设有打开密码（已加密）：请取消密码后重新发送",
         "The file has an opening password (encrypted): remove the password and send it again"),
    Code("F112", ERROR, "xlsb 二进制工作簿", "Binary workbook (.xlsb)",
         "这是 Excel 二进制工作簿 (.xlsb)，不是 .xlsx：" + _RESAVE_ZH,
         "This is an Excel binary workbook (.xlsb), not .xlsx: " + _RESAVE_EN),
    Code("F113", ERROR, "PDF 文件", "PDF file",
         "这是 PDF 文件，不是 Excel 工作簿：请发送填写好的 .xlsx 表格文件本身，不要导出或打印成 PDF",
         "This is a PDF, not an Excel workbook: send the filled-in .xlsx file itself, not a PDF "
         "export or print"),
    Code("F114", ERROR, "其他文档或压缩包", "Other document or archive",
         "这是其他类型的文档或压缩包（如 Word、ODS、zip），不是 Excel 工作簿：请直接发送 .xlsx 表格文件",
         "This is another kind of document or archive (Word, ODS, zip…), not an Excel workbook: "
         "send the .xlsx file itself"),
    Code("F115", ERROR, "文本文件", "Text file",
         "这是文本文件（如 CSV），不是 Excel 工作簿：请使用下发的 .xlsx 模板填写，或在 Excel/WPS "
         "中“另存为” Excel 工作簿 (.xlsx) 后重新发送",
         "This is a text file (e.g. CSV), not an Excel workbook: fill in the .xlsx template that "
         "was sent out, or " + _RESAVE_EN),
    Code("F116", ERROR, "文件不完整或损坏", "Incomplete or damaged file",
         "文件不完整或已损坏（可能下载未完成或邮件附件被截断）：请重新下载附件，或请单位重新发送",
         "The file is incomplete or damaged (unfinished download or truncated attachment): "
         "download it again or ask the unit to resend it"),
    Code("F117", ERROR, "疑似压缩炸弹", "Suspected zip bomb",
         "文件结构异常（{detail_zh}），疑似压缩炸弹，已拒绝读取：请单位用 Excel/WPS 重新保存为 "
         ".xlsx 后发送",
         "Abnormal file structure ({detail_en}), possibly a zip bomb; refused: ask the unit to "
         "re-save it as .xlsx in Excel/WPS and send it again"),
    Code("F118", ERROR, "XML 实体攻击", "XML entity attack",
         "文件内部 XML 含有被禁止的实体声明（疑似恶意构造），已拒绝读取：请单位用 Excel/WPS "
         "重新保存为 .xlsx 后发送，并核实文件来源",
         "The file's XML declares forbidden entities (possibly malicious); refused: ask the unit "
         "to re-save it as .xlsx in Excel/WPS, and check where it came from"),
    # (the parser's own error text stays in the finding's values for the office's JSON, not in the message)
    Code("F119", ERROR, "无法解析", "Cannot be parsed",
         "文件内部结构已损坏，无法读取：请在 Excel/WPS 中打开确认内容无误后，“另存为” Excel 工作簿 "
         "(.xlsx) 重新发送；若打不开，请从原件重新填报",
         "The file's internal structure is damaged and cannot be read: open it in Excel/WPS, check its "
         "content, 'Save As' Excel Workbook (.xlsx) and send it again; if it does not open, fill in a fresh copy"),
    Code("F122", ERROR, "无法读取的文件夹", "Folder cannot be read",
         "没有读取该文件夹的权限，其中的文件未检查：请检查文件夹权限后重试",
         "No permission to read this folder; the files in it were not checked: check its permissions and retry"),
    Code("F120", ERROR, "未知格式", "Unknown format",
         "无法识别的文件格式（不是 Excel 工作簿）：请发送 .xlsx 格式的表格文件",
         "Unrecognised file format (not an Excel workbook): send the form as an .xlsx file"),
    Code("F121", ERROR, "合并或链接范围过大", "Oversized merged/linked range",
         "工作表中合并单元格或超链接覆盖的范围过大（{detail_zh}），疑似异常文件，已拒绝读取：请取消整行、"
         "整列的合并单元格或超链接后重新保存发送",
         "Merged cells or hyperlinks cover too large a range ({detail_en}), possibly a malicious "
         "file; refused: remove whole-row/column merges or hyperlinks, save and send it again"),
    Code("W101", WARNING, "包含宏", "Contains macros",
         "工作簿包含宏代码（未运行，读取时已忽略）：请确认数据不依赖宏，最好另存为不含宏的 .xlsx",
         "The workbook contains macros (not run, ignored when reading): make sure the data does "
         "not depend on them; preferably save it as a macro-free .xlsx"),
    Code("W102", WARNING, "外部链接", "External links",
         "工作簿引用了 {count} 个外部文件（链接未更新，使用文件中保存的数值）：请核对相关数值，"
         "最好在 Excel 中“断开链接”后重新发送",
         "The workbook links to {count} external file(s) (links not updated; the values saved in "
         "the file are used): check those figures, ideally break the links in Excel and resend"),
    Code("W103", WARNING, "ActiveX 控件", "ActiveX controls",
         "工作簿包含 {count} 个 ActiveX 控件（未运行，已忽略）",
         "The workbook contains {count} ActiveX control part(s) (not run, ignored)"),
    Code("W104", WARNING, "嵌入对象", "Embedded objects",
         "工作簿嵌入了 {count} 个对象（如其他文档，未打开，已忽略）",
         "The workbook embeds {count} object(s) (e.g. other documents; not opened, ignored)"),
)

# More specific wording for some codes, chosen by what the file turned out to be.
_VARIANTS: dict[tuple[str, str], tuple[str, str]] = {
    ("F102", "special"): (
        "这不是普通文件（设备、管道等）：请指定 .xlsx 文件",
        "This is not a regular file (device, pipe…): give the path of an .xlsx file"),
    ("F103", "oserror"): (
        "无法打开文件（{detail}）：请检查文件是否可访问，或复制到本地后重试",
        "The file cannot be opened ({detail}): check it is accessible, or copy it locally and retry"),
    ("F111", "zip"): (
        "文件内容设有密码（压缩包加密）：请取消密码后重新发送",
        "The file's contents are password-protected (encrypted zip): remove the password and "
        "send it again"),
    ("F114", "word"): (
        "这是 Word 文档，不是 Excel 工作簿：请直接发送 .xlsx 表格文件，不要把表格复制到 Word 中",
        "This is a Word document, not an Excel workbook: send the .xlsx file itself, do not paste "
        "the table into Word"),
    ("F114", "powerpoint"): (
        "这是 PowerPoint 演示文稿，不是 Excel 工作簿：请直接发送 .xlsx 表格文件",
        "This is a PowerPoint presentation, not an Excel workbook: send the .xlsx file itself"),
    ("F114", "ods"): (
        "这是 OpenDocument 表格 (.ods)，不是 .xlsx：请在 WPS/LibreOffice 中“另存为” Excel 工作簿 "
        "(.xlsx) 后重新发送",
        "This is an OpenDocument spreadsheet (.ods), not .xlsx: in WPS/LibreOffice 'Save As' "
        "Excel Workbook (.xlsx) and send it again"),
    ("F114", "odf"): (
        "这是 OpenDocument 文档（如 .odt），不是 Excel 工作簿：请直接发送 .xlsx 表格文件",
        "This is an OpenDocument document (e.g. .odt), not an Excel workbook: send the .xlsx "
        "file itself"),
    ("F114", "zip"): (
        "这是 zip 压缩包，不是 Excel 工作簿：请解压后直接发送其中的 .xlsx 文件",
        "This is a zip archive, not an Excel workbook: unpack it and send the .xlsx file itself"),
    ("F115", "markup"): (
        "这是网页 (HTML) 或 XML 格式的文件（常见于系统导出的“伪 .xls”），不是 Excel 工作簿："
        + _RESAVE_ZH,
        "This is an HTML or XML file (often a system export posing as .xls), not an Excel "
        "workbook: " + _RESAVE_EN),
}


def _fail(code: str, variant: str | None = None, **values: object) -> UnreadableFile:
    """Build the exception for ``code``: catalogue (or variant) wording, always one line."""
    c = CATALOGUE[code]
    zh, en = _VARIANTS.get((code, variant or ""), (c.zh, c.en))
    clean = {k: _one_line(str(v)) for k, v in values.items()}
    try:
        zh, en = zh.format(**clean), en.format(**clean)
    except (KeyError, IndexError, ValueError):
        pass
    return UnreadableFile(code, _one_line(zh), _one_line(en))


def _one_line(text: str, limit: int = 300) -> str:
    """Collapse control characters (file and member names may contain newlines) and cap length."""
    text = re.sub(r"[\x00-\x1f\x7f\u2028\u2029]+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------
@dataclass
class Intake:
    """A workbook read safely, in both openpyxl views, plus what was noticed on the way in."""

    path: Path
    data: bytes                  # the file's bytes, read once
    formulas: "openpyxl.Workbook"  # data_only=False: formula text
    values: "openpyxl.Workbook"    # data_only=True: cached results as last saved
    flags: list[Finding]         # non-fatal risks: W101..W104
    application: str | None      # docProps/app.xml <Application>
    wps: bool                    # saved by WPS (Application or KSOProductBuildVer property)
    kind: str = "xlsx"           # sniff() result: 'xlsx' or 'xlsm'
    load_warnings: list[str] = field(default_factory=list)  # openpyxl warnings, de-duplicated


@dataclass
class Package:
    """A workbook package that passed the door (format, size and zip-bomb checks), not yet parsed.

    ``check`` reads its cells with the streaming reader (:mod:`xlsxread`); :func:`read_workbook`
    hands the same bytes to openpyxl. The caller closes ``archive`` (or uses ``with``)."""

    path: Path
    data: bytes
    archive: zipfile.ZipFile
    flags: list[Finding]
    application: str | None
    wps: bool
    kind: str = "xlsx"

    def __enter__(self) -> "Package":
        return self

    def __exit__(self, *exc: object) -> None:
        self.archive.close()


def open_package(path: str | Path, *, max_bytes: int | None = None) -> Package:
    """Everything :func:`read_workbook` checks except what only openpyxl needs (no parsing of cells).

    Cell bombs (huge merged ranges) are not scanned for here: the streaming reader never expands
    a range, so they cost it nothing; :func:`read_workbook` still refuses them before openpyxl.
    """
    if DefusedXmlException is None:
        c = CATALOGUE["F100"]
        raise WbtoolError("F100", c.zh, c.en)
    path = Path(path)
    data = _read_bytes(path, MAX_FILE_BYTES if max_bytes is None else max_bytes)
    kind = sniff(data)
    if kind not in LOADABLE_KINDS:
        raise _reject(kind, data)
    try:
        archive = zipfile.ZipFile(BytesIO(data))
    except Exception as exc:  # sniff opened it already; belt and braces
        raise _fail("F116") from exc
    try:
        _check_zip_limits(archive, len(data))
        application, wps = _read_identity(archive)
    except BaseException:
        archive.close()
        raise
    return Package(path=path, data=data, archive=archive, flags=_risk_flags(archive.namelist()),
                   application=application, wps=wps, kind=kind)


def read_workbook(path: str | Path, *, max_bytes: int | None = None) -> Intake:
    """Read an untrusted workbook file with openpyxl, or raise :class:`UnreadableFile` saying what to do.

    ``max_bytes`` overrides :data:`MAX_FILE_BYTES`. Only :class:`WbtoolError` ever escapes for bad
    input; an unexpected exception from here is a wbtool bug, not a file problem. ``check`` does
    not use this (see :func:`open_package`); tests and tools that want openpyxl objects do.
    """
    _require_defusedxml()
    with open_package(path, max_bytes=max_bytes) as pkg:
        _check_expanding_ranges(pkg.archive)
        load_warnings: list[str] = []
        formulas = _load(pkg.data, data_only=False, caught=load_warnings)
        values = _load(pkg.data, data_only=True, caught=load_warnings)
    return Intake(
        path=pkg.path, data=pkg.data, formulas=formulas, values=values,
        flags=pkg.flags, application=pkg.application, wps=pkg.wps, kind=pkg.kind,
        load_warnings=load_warnings,
    )


def damaged(code: str, detail: str) -> UnreadableFile:
    """The error for a file the streaming reader could not get through (codes as openpyxl's path)."""
    if code == "F121":
        return _fail("F121", detail_zh=detail, detail_en=detail)
    if code in ("F116", "F118"):
        return _fail(code)
    return _fail("F119", detail=detail)


def __getattr__(name: str):  # noqa: ANN202 - PEP 562: openpyxl is imported only when asked for
    """``intake.openpyxl`` on demand, so importing this module does not import openpyxl."""
    if name == "openpyxl":
        import openpyxl

        return openpyxl
    raise AttributeError(name)


def sniff(data: bytes) -> str:
    """Name the format of ``data`` from its content alone.

    Returns one of 'xlsx', 'xlsm', 'xlsb', 'ole-encrypted', 'ole' (.xls / .et / .doc), 'pdf',
    'zip-other' (docx, odt, plain zip…), 'zip-damaged' (truncated or corrupt zip), 'csv/text',
    'empty', 'unknown'. Reads only the zip directory and, if small, ``[Content_Types].xml``.
    """
    if not data:
        return "empty"
    if data.startswith(ZIP_MAGICS):
        return _sniff_zip(data)
    if data.startswith(OLE_MAGIC):
        return "ole-encrypted" if _ole_has_stream(data, "EncryptionInfo", "EncryptedPackage") else "ole"
    if b"%PDF-" in data[:1024]:  # PDF readers accept junk before the header
        return "pdf"
    if _decode_text_head(data) is not None:
        return "csv/text"
    return "unknown"


# --------------------------------------------------------------------------------------------
# Reading the file
# --------------------------------------------------------------------------------------------
def _require_defusedxml() -> None:
    """openpyxl expands XML entities unless defusedxml is importable; refuse to run without it."""
    import openpyxl

    if not getattr(openpyxl, "DEFUSEDXML", False) or DefusedXmlException is None:
        c = CATALOGUE["F100"]
        raise WbtoolError("F100", c.zh, c.en)


def _read_bytes(path: Path, limit: int) -> bytes:
    """stat, then read at most ``limit + 1`` bytes through one read-only handle."""
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError, ValueError) as exc:  # ValueError: NUL in path
        raise _fail("F101") from exc
    except PermissionError as exc:
        raise _fail("F103") from exc
    except OSError as exc:
        raise _fail("F103", "oserror", detail=exc.strerror or type(exc).__name__) from exc
    if stat.S_ISDIR(st.st_mode):
        raise _fail("F102")
    if not stat.S_ISREG(st.st_mode):  # a FIFO would block, /dev/zero never ends
        raise _fail("F102", "special")
    if st.st_size > limit:
        raise _too_large(st.st_size, limit)
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except (FileNotFoundError, NotADirectoryError) as exc:  # vanished since stat
        raise _fail("F101") from exc
    except IsADirectoryError as exc:
        raise _fail("F102") from exc
    except PermissionError as exc:
        raise _fail("F103") from exc
    except OSError as exc:
        raise _fail("F103", "oserror", detail=exc.strerror or type(exc).__name__) from exc
    if len(data) > limit:  # grew since stat
        raise _too_large(len(data), limit)
    return data


def _too_large(size: int, limit: int) -> UnreadableFile:
    return _fail("F105", size_mb=f"{size / 1048576:.1f}", limit_mb=f"{limit / 1048576:.1f}")


# --------------------------------------------------------------------------------------------
# Format detection
# --------------------------------------------------------------------------------------------
def _sniff_zip(data: bytes) -> str:
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            names = archive.namelist()
            declared = _content_type_kind(archive)
    except Exception:  # BadZipFile, but crafted directories can raise others too
        return "zip-damaged"
    if declared:
        return declared
    lower = {n.lower() for n in names}
    if "xl/workbook.xml" in lower:
        return "xlsx"
    if "xl/workbook.bin" in lower:
        return "xlsb"
    return "zip-other"


def _content_type_kind(archive: zipfile.ZipFile) -> str | None:
    """Workbook kind declared in ``[Content_Types].xml``, or None if absent/unreadable/not a workbook."""
    try:
        info = archive.getinfo("[Content_Types].xml")
    except KeyError:
        return None
    if info.file_size > MAX_SMALL_PART_BYTES:
        return None
    try:
        root = _safe_fromstring(archive.read(info))
    except Exception:  # damaged or hostile; openpyxl will report it properly later
        return None
    found: set[str] = set()
    for el in root:
        ctype = (el.get("ContentType") or "").strip()
        if ctype in _XML_WORKBOOK_TYPES:
            found.add(_XML_WORKBOOK_TYPES[ctype])
        elif ctype == _BINARY_WORKBOOK_TYPE:
            found.add("xlsb")
    for kind in ("xlsm", "xlsx", "xlsb"):
        if kind in found:
            return kind
    return None


def _ole_has_stream(data: bytes, *names: str) -> bool:
    """OLE directory entries store stream names in UTF-16LE; a byte search needs no OLE parser."""
    return any(name.encode("utf-16-le") in data for name in names)


def _decode_text_head(data: bytes) -> str | None:
    """The first few KB as text if the file plausibly is text (CSV, TSV, HTML…), else None."""
    head = data[:_TEXT_SNIFF_BYTES]
    boms = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"),
            (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"),
            (codecs.BOM_UTF16_BE, "utf-16"))
    encodings: Iterable[str] = ("utf-8", "gb18030")
    for bom, enc in boms:
        if head.startswith(bom):
            encodings = (enc,)
            break
    else:
        if b"\x00" in head:
            return None
    for enc in encodings:
        try:
            text = codecs.getincrementaldecoder(enc)().decode(head, final=False)
        except UnicodeDecodeError:
            continue
        controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\r\n\f")
        if controls <= len(text) // 100:
            return text
    return None


def _reject(kind: str, data: bytes) -> UnreadableFile:
    """The specific error for a file that sniff() says openpyxl must not be given."""
    if kind == "empty":
        return _fail("F104")
    if kind == "ole-encrypted":
        return _fail("F111")
    if kind == "ole":
        return _fail("F114", "word") if _ole_has_stream(data, "WordDocument") else _fail("F110")
    if kind == "xlsb":
        return _fail("F112")
    if kind == "pdf":
        return _fail("F113")
    if kind == "zip-other":
        return _fail("F114", _zip_document_kind(data))
    if kind == "zip-damaged":
        return _fail("F116")
    if kind == "csv/text":
        text = (_decode_text_head(data) or "").lstrip("\ufeff \t\r\n")
        return _fail("F115", "markup" if text.startswith("<") else None)
    return _fail("F120")


def _zip_document_kind(data: bytes) -> str:
    """Which non-Excel zip this is, to word the message: word, powerpoint, ods, odf or zip."""
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            names = archive.namelist()
            mimetype = b""
            if "mimetype" in names and archive.getinfo("mimetype").file_size < 200:
                mimetype = archive.read("mimetype")
    except Exception:
        return "zip"
    if any(n.startswith("word/") for n in names):
        return "word"
    if any(n.startswith("ppt/") for n in names):
        return "powerpoint"
    if mimetype.startswith(b"application/vnd.oasis.opendocument.spreadsheet"):
        return "ods"
    if mimetype.startswith(b"application/vnd.oasis.opendocument"):
        return "odf"
    return "zip"


# --------------------------------------------------------------------------------------------
# Zip bomb limits: checked on the central directory, before anything is inflated.
# zipfile stops inflating a member at its declared size (and then fails the CRC check), so
# bounding the declared sizes bounds what openpyxl can be made to decompress.
# --------------------------------------------------------------------------------------------
def _check_zip_limits(archive: zipfile.ZipFile, file_size: int) -> None:
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise _bomb(f"含 {len(infos)} 个部件，上限 {MAX_ZIP_MEMBERS}",
                    f"{len(infos)} parts, limit {MAX_ZIP_MEMBERS}")
    total = 0
    for info in infos:
        name = _one_line(info.filename, 80)
        if info.flag_bits & 0x1:
            raise _fail("F111", "zip")
        if info.compress_size > file_size:
            raise _fail("F116")
        if info.file_size > MAX_MEMBER_UNCOMPRESSED:
            raise _bomb(f"部件 {name} 声称解压后有 {_mb(info.file_size)} MB",
                        f"part {name} claims {_mb(info.file_size)} MB uncompressed")
        if (info.file_size > RATIO_CHECK_MIN_BYTES
                and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1)):
            ratio = info.file_size // max(info.compress_size, 1)
            raise _bomb(f"部件 {name} 压缩比 {ratio}:1，上限 {MAX_COMPRESSION_RATIO}:1",
                        f"part {name} compression ratio {ratio}:1, limit {MAX_COMPRESSION_RATIO}:1")
        total += info.file_size
    if total > MAX_TOTAL_UNCOMPRESSED:
        raise _bomb(f"解压后共 {_mb(total)} MB，上限 {_mb(MAX_TOTAL_UNCOMPRESSED)} MB",
                    f"{_mb(total)} MB uncompressed, limit {_mb(MAX_TOTAL_UNCOMPRESSED)} MB")


def _bomb(detail_zh: str, detail_en: str) -> UnreadableFile:
    return _fail("F117", detail_zh=detail_zh, detail_en=detail_en)


def _mb(n: int) -> str:
    return f"{n / 1048576:.0f}" if n >= 10 * 1048576 else f"{n / 1048576:.1f}"


# --------------------------------------------------------------------------------------------
# Cell bombs: small XML that makes openpyxl create millions of cells (see MAX_EXPANDED_CELLS).
# Worksheets are streamed through expat -- the tokenizer openpyxl itself uses, so character
# references or odd prefixes cannot hide a range from us -- and only start tags are looked at.
# --------------------------------------------------------------------------------------------
class _StopScan(Exception):
    """Internal: stop scanning a part (not a worksheet, or the verdict is already known)."""


@dataclass
class _RangeTally:
    cells: int = 0
    merges: int = 0
    links: int = 0


def _check_expanding_ranges(archive: zipfile.ZipFile) -> None:
    """Refuse (F121) workbooks whose merged/hyperlinked ranges would make openpyxl explode.

    Every member is tried, since a worksheet may live at any path the relationships name; other
    parts stop at their first tag. Parts that fail to parse are left for openpyxl to report.
    """
    tally = _RangeTally()
    for info in archive.infolist():
        if not info.is_dir() and info.file_size:
            _scan_worksheet(archive, info, tally)
    if tally.cells > MAX_EXPANDED_CELLS:
        raise _fail("F121", detail_zh=f"约 {tally.cells} 个单元格，上限 {MAX_EXPANDED_CELLS}",
                    detail_en=f"about {tally.cells} cells, limit {MAX_EXPANDED_CELLS}")
    if tally.merges * tally.links > MAX_MERGE_LINK_PRODUCT:
        raise _fail("F121", detail_zh=f"{tally.merges} 个合并区域 × {tally.links} 个超链接",
                    detail_en=f"{tally.merges} merged ranges x {tally.links} hyperlinks")


def _scan_worksheet(archive: zipfile.ZipFile, info: zipfile.ZipInfo, tally: _RangeTally) -> None:
    parser = expat.ParserCreate(namespace_separator="}")
    is_root = True

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal is_root
        local = name.rsplit("}", 1)[-1]
        if is_root:
            is_root = False
            if local != "worksheet":
                raise _StopScan
        elif local == "mergeCell":
            tally.merges += 1
            tally.cells += _range_area(attrs.get("ref", ""))
        elif local == "hyperlink":
            tally.links += 1
            ref = attrs.get("ref", "")
            tally.cells += _range_area(ref) if ":" in ref else 0
        if tally.cells > MAX_EXPANDED_CELLS:
            raise _StopScan  # verdict known; stop reading

    def entity(*_args: object) -> None:
        raise _fail("F118")

    parser.StartElementHandler = start
    parser.EntityDeclHandler = entity
    parser.UnparsedEntityDeclHandler = entity
    parser.ExternalEntityRefHandler = entity  # type: ignore[assignment]
    try:
        with archive.open(info) as fh:
            while chunk := fh.read(256 * 1024):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except UnreadableFile:
        raise
    except Exception:  # _StopScan, or a broken part/zip entry: openpyxl will judge it
        return


def _range_area(ref: str) -> int:
    """Number of cells in an A1-style range; whole rows/columns count in full; junk counts 1."""
    try:
        min_col, min_row, max_col, max_row = range_boundaries(ref.strip())
    except Exception:
        return 1
    cols = abs((max_col or 16384) - (min_col or 1)) + 1
    rows = abs((max_row or 1048576) - (min_row or 1)) + 1
    return cols * rows


# --------------------------------------------------------------------------------------------
# Parsing with openpyxl: the broad-catch boundary
# --------------------------------------------------------------------------------------------
def _load(data: bytes, *, data_only: bool, caught: list[str]) -> "openpyxl.Workbook":
    """load_workbook, turning any failure into F116/F118/F119 and recording warnings.

    openpyxl wraps parse errors in a ValueError, so the cause chain is searched for the real one.
    Warnings (e.g. dropped x14 validations) are kept instead of being printed on the console.
    """
    import openpyxl

    try:
        # openpyxl print()s some complaints ("99 is out of range"): stdout belongs to the report
        with warnings.catch_warnings(record=True) as seen, contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("always")
            wb = openpyxl.load_workbook(BytesIO(data), data_only=data_only, keep_links=False)
    except Exception as exc:
        raise _parse_failure(exc) from exc
    for w in seen:
        msg = _one_line(str(w.message), 200)
        if msg not in caught:
            caught.append(msg)
    return wb


def _parse_failure(exc: BaseException) -> UnreadableFile:
    chain = list(_cause_chain(exc))
    if any(isinstance(e, DefusedXmlException) for e in chain):
        return _fail("F118")
    # with lxml installed (python-docx brings it) openpyxl parses with lxml, whose libxml2 refuses the
    # attack itself ("Maximum entity amplification factor exceeded", "Detected an entity reference loop")
    if any(type(e).__name__ == "XMLSyntaxError" and ("amplification" in str(e) or "entity reference loop" in str(e))
           for e in chain):
        return _fail("F118")
    if any(isinstance(e, _DAMAGE_ERRORS) for e in chain):  # CRC mismatch, broken deflate stream
        return _fail("F116")
    root = chain[-1]
    return _fail("F119", detail=f"{type(root).__name__}: {_one_line(str(root), 80)}".rstrip(": "))


def _cause_chain(exc: BaseException) -> Iterable[BaseException]:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


# --------------------------------------------------------------------------------------------
# Flags and provenance
# --------------------------------------------------------------------------------------------
def _risk_flags(names: list[str]) -> list[Finding]:
    """W1xx findings for parts that openpyxl silently ignores but a reviewer should know about."""
    lower = [n.lower() for n in names]
    flags: list[Finding] = []
    macros = [n for n in lower if n.rsplit("/", 1)[-1] == "vbaproject.bin"
              or n.startswith("xl/macrosheets/")]
    if macros:
        flags.append(Finding("W101", values={"parts": ", ".join(macros[:5])}))
    links = [n for n in lower if n.startswith("xl/externallinks/") and n.endswith(".xml")]
    if links:
        flags.append(Finding("W102", values={"count": len(links)}))
    activex = [n for n in lower if n.startswith("xl/activex/") and not n.endswith(".rels")]
    if activex:
        flags.append(Finding("W103", values={"count": len(activex)}))
    embedded = [n for n in lower if n.startswith("xl/embeddings/") and not n.endswith("/")]
    if embedded:
        flags.append(Finding("W104", values={"count": len(embedded)}))
    return flags


_EP_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/extended-properties}"


def _read_identity(archive: zipfile.ZipFile) -> tuple[str | None, bool]:
    """(Application from docProps/app.xml, saved-by-WPS?) — provenance only, never fatal.

    An entity attack here is still refused (F118): the file is hostile whatever part carries it.
    """
    application = None
    app = _small_part(archive, "docProps/app.xml")
    if app is not None:
        node = app.find(f"{_EP_NS}Application")
        if node is None:
            node = app.find("Application")
        if node is not None and node.text and node.text.strip():
            application = _one_line(node.text, 120)
    wps = bool(application and "wps" in application.lower())
    custom = _small_part(archive, "docProps/custom.xml")
    if custom is not None:
        wps = wps or any(el.get("name") == "KSOProductBuildVer" for el in custom.iter())
    return application, wps


def _small_part(archive: zipfile.ZipFile, name: str):  # -> Element | None
    try:
        info = archive.getinfo(name)
    except KeyError:
        return None
    if info.file_size > MAX_SMALL_PART_BYTES:
        return None
    try:
        return _safe_fromstring(archive.read(info))
    except DefusedXmlException as exc:
        raise _fail("F118") from exc
    except Exception:
        return None
