#!/bin/sh
# Installs the npm packages of the browser end-to-end tests (tests/browser/package-lock.json:
# playwright-core, which drives Debian's Chromium from scripts/install-deps.sh and downloads no
# browser). Needs Node.js (>= 20) and npm; the machine image has both (NodeSource build), and
# only where they are missing does this install Debian's nodejs and npm. Safe to run again.
set -eu
cd "$(dirname "$0")/../tests/browser"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "install-browser-deps: installing nodejs and npm"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends nodejs npm
fi

echo "install-browser-deps: npm ci in tests/browser (node $(node --version))"
npm ci --no-audit --no-fund
