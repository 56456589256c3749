"""The catalogue of finding codes, and the Finding record.

Modelled on frictionless: every problem wbtool can report has a stable code, a severity, a title
and message templates in Chinese and English. Codes never change meaning once released; reports
(JSON) carry the code so scripts can rely on it while the wording improves.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .textsafe import safe

ERROR = "error"
WARNING = "warning"
INFO = "info"


@dataclass(frozen=True)
class Code:
    code: str
    severity: str
    title_zh: str
    title_en: str
    zh: str  # str.format template over the finding's ``values``
    en: str


CATALOGUE: dict[str, Code] = {}


class Bi(tuple):
    """A value shown in the report's language: ``Bi("实际完成值", "Actual")``."""

    def __new__(cls, zh: str, en: str) -> "Bi":
        return super().__new__(cls, (zh, en))

    def pick(self, lang: str) -> str:
        return self[1] if lang == "en" else self[0]

    def __getnewargs__(self) -> tuple[str, str]:  # pickling (reports cross process boundaries)
        return (self[0], self[1])


def register(*codes: Code) -> None:
    for c in codes:
        if c.code in CATALOGUE:
            raise ValueError(f"duplicate finding code {c.code}")
        CATALOGUE[c.code] = c


@dataclass
class Finding:
    code: str
    sheet: str | None = None
    cell: str | None = None
    indicator: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    severity: str | None = None  # defaults to the catalogue's
    text: tuple[str, str] | None = None  # a specific (zh, en) message, e.g. from an unreadable file

    def __post_init__(self) -> None:
        if self.code not in CATALOGUE:
            raise KeyError(f"unknown finding code {self.code}")
        if self.severity is None:
            self.severity = CATALOGUE[self.code].severity

    def message(self, lang: str = "zh") -> str:
        if self.text is not None:
            return self.text[1] if lang == "en" else self.text[0]
        c = CATALOGUE[self.code]
        return render(c.en if lang == "en" else c.zh, self.values, lang)

    def title(self, lang: str = "zh") -> str:
        c = CATALOGUE[self.code]
        return c.title_en if lang == "en" else c.title_zh

    def to_dict(self, lang: str = "zh") -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "title": self.title(lang),
            "message": self.message(lang),
            "sheet": self.sheet,
            "cell": self.cell,
            "indicator": self.indicator,
            "values": {k: _jsonable(v.pick(lang) if isinstance(v, Bi) else v) for k, v in self.values.items()},
        }


class _Blank:
    """An empty cell in a message: "空白" / "blank", never Python's ``None`` (also under ``{value!r}``)."""

    def __init__(self, lang: str) -> None:
        self.text = "blank" if lang == "en" else "空白"

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return self.text


def render(template: str, values: dict[str, Any], lang: str) -> str:
    """Fill a message template in the report's language; a template that does not fit stays as it is."""
    # values quoted from the file are shown with control/bidi characters escaped (textsafe)
    vals = {k: v.pick(lang) if isinstance(v, Bi) else (_Blank(lang) if v is None else safe(v) if isinstance(v, str) else v)
            for k, v in values.items()}
    try:
        return template.format(**vals)
    except (KeyError, IndexError, ValueError, TypeError):
        return template


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return str(v)
