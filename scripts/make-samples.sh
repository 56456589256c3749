#!/usr/bin/env bash
# Rebuild samples/party-building-2024-filled.xlsx: issue the seed with its actuals, recalculate in LibreOffice.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
python3 -m workbook_tool new --project samples/party-building-2024.yaml --with-actuals -o "$tmp/party-building-2024-filled.xlsx"
python3 -c "
from pathlib import Path; from workbook_tool.recalc import recalculate
recalculate([Path('$tmp/party-building-2024-filled.xlsx')], Path('$tmp/lo'))"
mv "$tmp/lo/party-building-2024-filled.xlsx" samples/
rm -rf "$tmp"
python3 -m workbook_tool check samples/party-building-2024-filled.xlsx | tail -1
# The seed's report draft (wbtool report) and its first pages, and the pictures of docs/img/
# (LibreOffice → PDF → pdftoppm; needs libreoffice-writer-nogui and poppler-utils).
python3 scripts/render-docs.py --samples
