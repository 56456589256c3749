"""Exceptions that carry an exit code and a bilingual message.

The CLI turns any :class:`WbtoolError` into one line on stderr and its exit code, so library code
raises these instead of printing; a traceback reaching the user is a bug.
"""
from __future__ import annotations


class WbtoolError(Exception):
    """A failure the user can act on. ``code`` is a stable catalogue code (see findings.py)."""

    exit_code = 2

    def __init__(self, code: str, zh: str, en: str | None = None, exit_code: int | None = None):
        super().__init__(zh)
        self.code = code
        self.zh = zh
        self.en = en or zh
        if exit_code is not None:
            self.exit_code = exit_code

    def message(self, lang: str = "zh") -> str:
        return self.en if lang == "en" else self.zh


class TemplateError(WbtoolError):
    """A template (rule-set profile) file that cannot be used."""


class ProjectFileError(WbtoolError):
    """A project file (--project) that cannot be used."""


class UnreadableFile(WbtoolError):
    """A workbook that cannot be read at all (exit code 2 for that file)."""
