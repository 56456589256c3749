"""Shared test fixtures (kept small and generic)."""
from __future__ import annotations

from pathlib import Path

import pytest

from workbook_tool.recalc import find_soffice

ROOT = Path(__file__).resolve().parents[1]
SEED_PROJECT = ROOT / "samples" / "party-building-2024.yaml"


@pytest.fixture(scope="session")
def soffice() -> str:
    """Path of LibreOffice. Real-engine tests never skip: without it they fail (scripts/test.sh installs it)."""
    p = find_soffice()
    if p is None:
        pytest.fail("LibreOffice (soffice) is not installed: run bash scripts/test.sh, which installs it")
    return p


@pytest.fixture(scope="session")
def seed_project() -> Path:
    """The seed sample's project file (2024 非公有制党建工作经费, dept-eval)."""
    return SEED_PROJECT
