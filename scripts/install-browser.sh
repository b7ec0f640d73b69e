#!/usr/bin/env bash
# Installs the system Chromium the console e2e test drives (test/e2e/console.test.ts) with
# playwright-core; nothing is downloaded by Playwright itself. Debian/Ubuntu only (apt-get).
# Never fails the caller: without Chromium that test is reported as skipped, with the reason.
set -u

for candidate in "${CHROMIUM_PATH:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then
    echo "install-browser: Chromium already present at $candidate"
    exit 0
  fi
done

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-browser: no apt-get here; Chromium not installed, the console e2e test will be skipped" >&2
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "install-browser: not root and no passwordless sudo; Chromium not installed, the console e2e test will be skipped" >&2
    exit 0
  fi
fi

export DEBIAN_FRONTEND=noninteractive
if $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
  && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-liberation; then
  echo "install-browser: installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
else
  echo "install-browser: apt-get could not install chromium; the console e2e test will be skipped" >&2
fi
exit 0
