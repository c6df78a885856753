#!/usr/bin/env bash
# Debian packages opencaller uses: espeak-ng (the fallback text-to-speech voice, run as a separate program) and
# chromium (the dashboard's browser tests drive it with Playwright). Installs what is missing when it can (root or
# sudo); otherwise says what to install.
set -euo pipefail

missing=()
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1; then
  SUDO="sudo"
else
  echo "please install: ${missing[*]} (e.g. apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "installing ${missing[*]} (Debian packages)..." >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
