#!/usr/bin/env bash
# Install everything the tests need (LibreOffice and Gnumeric included) and run them. `.ci/run` calls this.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
pkgs=()
command -v soffice >/dev/null 2>&1 || pkgs+=(libreoffice-calc-nogui fonts-noto-cjk)
command -v ssconvert >/dev/null 2>&1 || pkgs+=(gnumeric)
if [ ${#pkgs[@]} -gt 0 ]; then
  echo "== installing the spreadsheet engines: ${pkgs[*]} =="
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi
soffice --version
ssconvert --version 2>/dev/null | head -n 1

echo "== installing wbtool with its test extras =="
python3 -m pip install -q --disable-pip-version-check ".[test]"

echo "== running tests =="
python3 -m pytest -q -p no:cacheprovider "$@"
