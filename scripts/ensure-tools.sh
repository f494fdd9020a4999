#!/usr/bin/env bash
# Installs, when missing, what building and testing need beyond the machine's Rust and
# Node: rustup targets, Debian's Chromium (for browser tests), and the npm dev packages.
# Idempotent: each step checks first.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

for target in wasm32-unknown-unknown thumbv7em-none-eabi; do
  rustup target list --installed | grep -qx "$target" || rustup target add "$target"
done

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  echo "installing Debian's chromium and chromium-driver" >&2
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# npm ci is exact and quick when node_modules already matches the lock file.
if ! npm ls --depth=0 >/dev/null 2>&1; then
  npm ci --no-audit --no-fund
fi
