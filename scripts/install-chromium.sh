#!/bin/sh
# Install Debian's Chromium for the browser tests (npm run test:e2e) when it is missing.
# playwright-core drives it through executablePath /usr/bin/chromium (override: CHROMIUM_PATH).
set -eu

CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
  echo "install-chromium: $CHROMIUM present ($("$CHROMIUM" --version 2>/dev/null || echo 'version unknown'))"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-chromium: $CHROMIUM missing and apt-get not available; install Chromium and set CHROMIUM_PATH" >&2
  exit 1
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-chromium: needs root to run apt-get (no sudo is used); run as root or install chromium yourself" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y chromium
"$CHROMIUM" --version
