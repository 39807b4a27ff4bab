#!/usr/bin/env bash
# Installs Debian's HAProxy for bench/bench_replicas.py and its test when it is missing: the
# same load balancer, and the same deploy/haproxy/haproxy.cfg, as compose.yaml's haproxy image.
# The config uses .if/.endif blocks, so HAProxy 2.4 or newer (Debian 12 has 2.6).
set -euo pipefail
if command -v haproxy >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "Installing Debian's haproxy for the replica bench..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends haproxy >/dev/null
command -v haproxy
