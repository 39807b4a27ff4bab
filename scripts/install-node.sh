#!/usr/bin/env bash
# Installs Debian's Node.js for the tests of the player's pure part (tests/test_player.py runs
# explorer/components/player_state.js under Node) when it is missing. Those tests fail, never
# skip, without it, so `make test` runs this first, as it does scripts/install-chromium.sh.
set -euo pipefail
if command -v node >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "Installing Debian's nodejs for the player's tests..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs >/dev/null
command -v node
