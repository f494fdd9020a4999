#!/usr/bin/env bash
# The one test command (README: `npm test`): installs what is missing, builds pkg/, then
# runs every test: Rust (unit, integration, Wycheproof), the no_std build, and the JS
# tests (Node import, jose interop, headless Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-tools.sh
bash scripts/build-pkg.sh

echo "== no_std: the core builds for thumbv7em-none-eabi (no std available there)"
cargo build --lib --no-default-features --target thumbv7em-none-eabi

echo "== Rust tests"
cargo test --workspace

echo "== JS tests (pkg in Node and headless Chromium)"
node --test --test-concurrency=1 tests/js/
