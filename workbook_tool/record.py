"""The issued record: what the finance office issued, serialised one way, fingerprinted and signed.

Everything `check` relies on about the issue — the locked cells and their values, which indicator
rows were issued, whether the indicator list is the project's complete one, and any further issued
fields — lives in one JSON object on the hidden metadata sheet. The fingerprint (a plain hash, for
accidents) and the HMAC (with the office's key, for intent) are computed over the canonical
serialisation of that *whole* object plus a version number, so no field of it can be edited
without S004 / S005: emptying ``rows`` or flipping ``project_issued`` used to pass as authentic.

Version 1 (workbooks issued before the record was versioned) covered the cells only; such
workbooks are still verified the old way. A v2 signature cannot be replayed as v1 (the stored
HMAC was computed over the v2 payload), so deleting the version does not weaken a signed return.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

RECORD_VERSION = 2
_SCALAR = (str, int, float, type(None))


class RecordShapeError(ValueError):
    """The stored record is not an object of the expected shape (edited by hand, or damaged)."""


@dataclass(frozen=True)
class IssuedRecord:
    cells: dict[str, Any] = field(default_factory=dict)
    rows: list[int] = field(default_factory=list)
    project_issued: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    version: int = RECORD_VERSION

    def to_json(self) -> dict[str, Any]:
        if self.version == 1:
            return {"cells": self.cells, "rows": self.rows}
        return {**self.extra, "version": self.version, "cells": self.cells, "rows": self.rows,
                "project_issued": self.project_issued}


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def fingerprint(template_digest: str, record: IssuedRecord) -> str:
    if record.version == 1:  # (the historical serialisation: cells only, default separators)
        payload = json.dumps({"template": template_digest, "issued": record.cells}, ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()
    return hashlib.sha256(canonical({"template": template_digest, "record": record.to_json()})).hexdigest()


def signed_payload(template_digest: str, record: IssuedRecord, formulas_digest: str) -> bytes:
    if record.version == 1:
        return canonical({"template": template_digest, "issued": record.cells, "formulas": formulas_digest})
    return canonical({"template": template_digest, "record": record.to_json(), "formulas": formulas_digest})


def parse(blob: str | None, legacy_project_issued: str | None) -> IssuedRecord:
    """The record from its stored JSON text; RecordShapeError when it is not a record."""
    try:
        obj = json.loads(blob) if blob else {}
    except (json.JSONDecodeError, RecursionError) as e:
        raise RecordShapeError(f"JSON: {e}") from None
    if not isinstance(obj, dict):
        raise RecordShapeError(f"record is a {type(obj).__name__}, not an object")
    cells, rows = obj.get("cells", {}), obj.get("rows", [])
    if not isinstance(cells, dict) or not all(isinstance(k, str) and "!" in k and isinstance(v, _SCALAR)
                                              for k, v in cells.items()):
        raise RecordShapeError("cells must map sheet!cell to a value")
    if not isinstance(rows, list) or not all(isinstance(r, int) and not isinstance(r, bool) and 0 <= r < 10 ** 6
                                             for r in rows):
        raise RecordShapeError("rows must be a list of row numbers")
    if "version" not in obj:
        return IssuedRecord(cells, rows, legacy_project_issued == "1", {}, 1)
    version, project_issued = obj["version"], obj.get("project_issued")
    if version != RECORD_VERSION or not isinstance(project_issued, bool):
        raise RecordShapeError(f"unsupported record version {version!r} / project_issued {project_issued!r}")
    extra = {k: v for k, v in obj.items() if k not in ("version", "cells", "rows", "project_issued")}
    return IssuedRecord(cells, rows, project_issued, extra, version)
