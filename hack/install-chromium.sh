#!/usr/bin/env bash
# Installs Debian's chromium package when the chromium binary is missing.
# The dashboard's browser tests (internal/dashboard) drive a real headless
# Chromium; `make test` calls this first.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
	exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		sudo="sudo"
	else
		echo "chromium is not installed and this user cannot install it: run 'apt-get install chromium' as root" >&2
		exit 1
	fi
fi
echo "installing Debian's chromium package (once)..."
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y --no-install-recommends chromium >/dev/null; then
	$sudo apt-get update >/dev/null
	$sudo apt-get install -y --no-install-recommends chromium >/dev/null
fi
command -v chromium
