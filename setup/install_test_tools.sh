#!/usr/bin/env bash
# System tools the test suite needs beyond its Python packages: Chromium, which renders report.html
# headless for the report's screenshot test and which Playwright (a Python package of the test extra) drives
# through the annotation page; Playwright's own browser download is never used. Idempotent: does nothing when
# chromium is on PATH.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: the tests need Chromium (headless) and this is not a Debian/Ubuntu system:" \
        "install chromium with your package manager, then run pytest" >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" != "0" ]; then
    command -v sudo >/dev/null 2>&1 || { echo "error: installing chromium needs root: run apt-get install chromium" >&2; exit 1; }
    sudo="sudo"
fi
echo "installing chromium (Debian package) for the report's headless screenshot test"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1
