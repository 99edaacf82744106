#!/usr/bin/env bash
# Installs Debian's prometheus package when the prometheus binary is missing.
# The tests of the Prometheus provider and of analysis end to end run a real
# Prometheus server; `make test` and `make run` call this first.
set -euo pipefail
if command -v prometheus >/dev/null 2>&1; then
	exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		sudo="sudo"
	else
		echo "prometheus is not installed and this user cannot install it: run 'apt-get install prometheus' as root" >&2
		exit 1
	fi
fi
echo "installing Debian's prometheus package (once)..."
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y --no-install-recommends prometheus >/dev/null; then
	$sudo apt-get update >/dev/null
	$sudo apt-get install -y --no-install-recommends prometheus >/dev/null
fi
# The package may start a system service; tests run their own servers.
$sudo pkill -x prometheus >/dev/null 2>&1 || true
command -v prometheus
