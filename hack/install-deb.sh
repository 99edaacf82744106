#!/usr/bin/env bash
# Installs a Debian package when its binary is missing: the real servers the
# tests and `make run` use (prometheus; chromium, which the dashboard's
# browser tests drive headless). Usage: hack/install-deb.sh BINARY [PACKAGE]
set -euo pipefail
bin="$1"
pkg="${2:-$1}"
if command -v "$bin" >/dev/null 2>&1; then
	exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		sudo="sudo"
	else
		echo "$bin is not installed and this user cannot install it: run 'apt-get install $pkg' as root" >&2
		exit 1
	fi
fi
echo "installing Debian's $pkg package (once)..."
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y --no-install-recommends "$pkg" >/dev/null; then
	$sudo apt-get update >/dev/null
	$sudo apt-get install -y --no-install-recommends "$pkg" >/dev/null
fi
if [ "$pkg" = prometheus ]; then
	# The package may start a system service; tests run their own servers.
	$sudo pkill -x prometheus >/dev/null 2>&1 || true
fi
command -v "$bin"
