#!/bin/sh
# Install Debian's redis-server for the cluster tests when it is missing. The tests start their own
# server on a free loopback port (no persistence) and stop it; nothing is left listening.
set -eu

REDIS="${REDIS_SERVER:-/usr/bin/redis-server}"
if [ -x "$REDIS" ]; then
  echo "install-redis: $REDIS present ($("$REDIS" --version 2>/dev/null || echo 'version unknown'))"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-redis: $REDIS missing and apt-get not available; install redis-server and set REDIS_SERVER" >&2
  exit 1
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-redis: needs root to run apt-get; run as root or install redis-server yourself" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends redis-server
# Debian's package starts a system service on 6379; the tests never use it
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now redis-server 2>/dev/null || true; fi
"$REDIS" --version
