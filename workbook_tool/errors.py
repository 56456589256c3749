"""Exceptions that carry an exit code and a bilingual message.

The CLI turns any :class:`WbtoolError` into one line on stderr and its exit code, so library code
raises these instead of printing; a traceback reaching the user is a bug.
"""
from __future__ import annotations


from dataclasses import dataclass


@dataclass(frozen=True)
class CommandError:
    """A kind of failure of a command itself (not a finding about a return): stable code, exit
    code, title. The message is the raise site's, since it names the file, option or value."""

    code: str
    exit_code: int
    title_zh: str
    title_en: str


#: Every code a command can fail with (`wbtool codes` lists them; docs/findings.md). Finding codes
#: (S/V/X/I, and F/W for unreadable or risky files) are in catalogue.py and intake.py.
COMMAND_ERRORS: dict[str, CommandError] = {c.code: c for c in [
    CommandError("T001", 2, "模板内容无效", "Template invalid"),
    CommandError("T002", 2, "找不到模板", "Template not found"),
    CommandError("T003", 2, "无法读取模板", "Template unreadable"),
    CommandError("P001", 2, "项目文件内容无效", "Project file invalid"),
    CommandError("P002", 2, "找不到或无法读取项目文件", "Project file not found or unreadable"),
    CommandError("P003", 2, "项目文件不是有效的 YAML", "Project file is not valid YAML"),
    CommandError("P010", 2, "下达内容不一致，未生成文件", "Issue inconsistent: nothing written"),
    CommandError("B001", 2, "找不到名单文件", "Roster not found"),
    CommandError("B002", 2, "无法读取名单", "Roster unreadable"),
    CommandError("B004", 2, "名单中找不到表头", "Roster header not found"),
    CommandError("B005", 2, "名单中没有项目行", "No project rows in the roster"),
    CommandError("B006", 2, "名单有问题，未生成文件", "Roster has problems: nothing written"),
    CommandError("B007", 2, "名单中找不到指定项目", "Project not found in the roster"),
    CommandError("O001", 2, "输出文件已存在", "Output exists"),
    CommandError("O002", 2, "输出目录不存在或无法创建", "Output folder missing or not creatable"),
    CommandError("O003", 2, "输出文件名不可用", "Output name not usable"),
    CommandError("K001", 2, "密钥文件已存在", "Key file exists"),
    CommandError("K002", 2, "找不到密钥文件", "Key file not found"),
    CommandError("K003", 2, "密钥文件无效", "Key file invalid"),
    CommandError("R001", 2, "未找到 LibreOffice", "LibreOffice not found"),
    CommandError("R002", 2, "LibreOffice 未能重算", "LibreOffice did not recalculate"),
    CommandError("R003", 2, "未找到 Gnumeric", "Gnumeric not found"),
    CommandError("R004", 2, "Gnumeric 未能重算", "Gnumeric did not recalculate"),
    CommandError("D001", 1, "回收表有错误，未生成报告", "Return has errors: no report"),
    CommandError("D002", 2, "回收表无法评分，未生成报告", "Return not scorable: no report"),
]}


class WbtoolError(Exception):
    """A failure the user can act on. ``code`` is a stable code: a command error (COMMAND_ERRORS,
    whose exit code it takes unless given) or, for unreadable files, a finding code (intake.py)."""

    exit_code = 2

    def __init__(self, code: str, zh: str, en: str | None = None, exit_code: int | None = None):
        super().__init__(zh)
        self.code = code
        self.zh = zh
        self.en = en or zh
        if exit_code is not None:
            self.exit_code = exit_code
        elif code in COMMAND_ERRORS:
            self.exit_code = COMMAND_ERRORS[code].exit_code

    def message(self, lang: str = "zh") -> str:
        return self.en if lang == "en" else self.zh


class TemplateError(WbtoolError):
    """A template (rule-set profile) file that cannot be used."""


class ProjectFileError(WbtoolError):
    """A project file (--project) that cannot be used."""


class UnreadableFile(WbtoolError):
    """A workbook that cannot be read at all (exit code 2 for that file)."""
