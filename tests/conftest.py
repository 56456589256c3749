"""Shared test fixtures (kept small and generic)."""
from __future__ import annotations

from pathlib import Path

import pytest

from workbook_tool.recalc import find_soffice

ROOT = Path(__file__).resolve().parents[1]
SEED_PROJECT = ROOT / "samples" / "party-building-2024.yaml"


@pytest.fixture(scope="session")
def soffice() -> str:
    """Path of LibreOffice; tests that need a real spreadsheet engine are skipped without it."""
    p = find_soffice()
    if p is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    return p


@pytest.fixture(scope="session")
def seed_project() -> Path:
    """The seed sample's project file (2024 非公有制党建工作经费, dept-eval)."""
    return SEED_PROJECT
