"""Signed issue: an HMAC over what the finance office issued, so quiet edits become visible.

Sheet protection is weak by design and the fingerprint in the metadata is a plain hash anyone can
recompute after editing a target. The HMAC needs the office's key, which never leaves the office:
a return whose issued record (template rule-set, header, targets, operators, units, weights) or
formulas were changed cannot carry a valid signature.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from .errors import WbtoolError
from .record import IssuedRecord, signed_payload

KEY_BYTES = 32


def keygen(path: str | Path, force: bool = False) -> Path:
    """Write a new random key (hex) with permissions 0600; never overwrite silently."""
    p = Path(path)
    if p.exists() and not force:
        raise WbtoolError("K001", f"密钥文件已存在：{p}（使用 --force 覆盖；旧密钥签发的表格将无法验证）",
                          f"key file exists: {p} (use --force; workbooks signed with the old key will no longer verify)")
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(KEY_BYTES) + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return p


def load_key(path: str | Path) -> bytes:
    p = Path(path)
    try:
        text = p.read_text(encoding="ascii").strip()
        key = bytes.fromhex(text)
    except FileNotFoundError:
        raise WbtoolError("K002", f"找不到密钥文件：{p}", f"key file not found: {p}") from None
    except (OSError, ValueError, UnicodeDecodeError):
        raise WbtoolError("K003", f"密钥文件无效：{p}（应为 wbtool keygen 生成的文件）",
                          f"invalid key file: {p} (expected a file made by wbtool keygen)") from None
    if len(key) < 16:
        raise WbtoolError("K003", f"密钥文件无效：{p}（密钥过短）", f"invalid key file: {p} (key too short)")
    return key


def key_id(key: bytes) -> str:
    """A short public id telling which key signed a workbook (not the key itself)."""
    return hashlib.sha256(b"wbtool-key-id" + key).hexdigest()[:12]


def sign(key: bytes, template_digest: str, record: IssuedRecord, formulas_digest: str) -> str:
    """HMAC over the template, the *whole* issued record (record.py) and every formula."""
    return hmac.new(key, signed_payload(template_digest, record, formulas_digest), hashlib.sha256).hexdigest()


def verify(key: bytes, signature: str | None, template_digest: str, record: IssuedRecord, formulas_digest: str) -> bool:
    if not signature:
        return False
    return hmac.compare_digest(sign(key, template_digest, record, formulas_digest), signature)
