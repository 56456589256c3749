#!/usr/bin/env bash
# Install everything the tests need (LibreOffice included) and run them. `.ci/run` calls this.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
if ! command -v soffice >/dev/null 2>&1; then
  echo "== installing LibreOffice (libreoffice-calc-nogui) =="
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    libreoffice-calc-nogui fonts-noto-cjk >/dev/null
fi
soffice --version

echo "== installing wbtool with its test extras =="
python3 -m pip install -q --disable-pip-version-check ".[test]"

echo "== running tests =="
python3 -m pytest -q -p no:cacheprovider "$@"
