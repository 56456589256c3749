"""Text from files (names, cell contents) made safe to print on a terminal.

A file name or cell text can hold a newline (a second, forged report line), ESC sequences (clear
the screen, recolour a line), or bidi controls such as U+202E that reverse what follows. Every such
character is shown as a visible escape instead: the office sees ``r.xlsx\\n通过 …`` on one line.
JSON keeps exact values, except that a file name which is not valid UTF-8 (held by Python as lone
surrogates) is written as ``\\udcXX`` escapes, which ``json.loads`` + ``os.fsencode`` turn back into
the original bytes.
"""
from __future__ import annotations

import re
from typing import Any

# C0 and C1 controls, DEL, bidi embeddings/overrides/isolates and marks, line/paragraph separators,
# and lone surrogates (undecodable bytes of a file name)
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(m: re.Match[str]) -> str:
    ch = m.group(0)
    if ch in _NAMED:
        return _NAMED[ch]
    n = ord(ch)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}"


def safe(value: Any) -> str:
    """``str(value)`` with every control, bidi and undecodable character shown as an escape."""
    return _UNSAFE.sub(_escape, value if isinstance(value, str) else str(value))


_SURROGATE = re.compile("[\ud800-\udfff]")


def json_text(text: str) -> str:
    """JSON text (from ``json.dumps(..., ensure_ascii=False)``) that can be written as UTF-8: lone
    surrogates become ``\\udcXX`` escapes, which JSON readers turn back into the same code points."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def decode_office_text(raw: bytes) -> str | None:
    """Text files an office saves (YAML from Notepad, CSV from Excel): UTF-8 (with or without BOM),
    else GBK/GB18030; None when it is neither."""
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return None
