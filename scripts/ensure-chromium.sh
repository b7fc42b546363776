#!/usr/bin/env bash
# Browser tests drive Debian's Chromium and ChromeDriver; install them if missing (needs root),
# with a Korean font so the Korean screenshots are legible.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null \
  && fc-list 2>/dev/null | grep -qi nanum; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "Browser tests need Debian's chromium and chromium-driver: sudo apt-get install chromium chromium-driver" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-nanum >/dev/null
