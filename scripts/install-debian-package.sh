#!/bin/sh
# Install a Debian package the test suites need, when its program is missing:
#   sh scripts/install-debian-package.sh chromium /usr/bin/chromium        (browser suite)
#   sh scripts/install-debian-package.sh redis-server /usr/bin/redis-server (cluster tests)
# The tests start what they need themselves (Redis on a free loopback port, no persistence).
set -eu

PACKAGE="$1"
PROGRAM="$2"
if [ -x "$PROGRAM" ]; then
  echo "install: $PROGRAM present ($("$PROGRAM" --version 2>/dev/null || echo 'version unknown'))"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install: $PROGRAM missing and apt-get not available; install $PACKAGE yourself" >&2
  exit 1
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install: needs root to run apt-get (no sudo is used); run as root or install $PACKAGE yourself" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y "$PACKAGE"
"$PROGRAM" --version
