#!/usr/bin/env bash
# Regenerate the pictures of `wbtool collect`'s summary in docs/ (docs/collect-overview.png, collect-ranking.png)
# and the example workbook docs/collect-example.xlsx. Needs LibreOffice and pdftoppm (poppler-utils).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v pdftoppm >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null
fi
python3 scripts/make_docs.py
