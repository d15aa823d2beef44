#!/usr/bin/env bash
# Make sure Debian's Chromium is installed for the workbench's browser tests (Playwright drives /usr/bin/chromium;
# no browser is ever downloaded by a test tool). Installs the Debian package when it is missing; fails loudly
# when it cannot.
set -u
if [ -x /usr/bin/chromium ]; then
  echo "browser: $(/usr/bin/chromium --version 2>/dev/null | head -1)" >&2
  exit 0
fi
echo "browser: Debian's chromium is missing, installing it" >&2
if ! command -v apt-get >/dev/null 2>&1; then
  echo "browser: FATAL: no apt-get to install chromium with; install the chromium package" >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null 2>&1 || echo "browser: apt-get update failed, trying the package lists as they are" >&2
if ! $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null; then
  echo "browser: FATAL: apt-get install chromium failed" >&2
  exit 1
fi
[ -x /usr/bin/chromium ] || { echo "browser: FATAL: /usr/bin/chromium is still missing" >&2; exit 1; }
echo "browser: installed $(/usr/bin/chromium --version 2>/dev/null | head -1)" >&2
