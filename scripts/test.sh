#!/usr/bin/env bash
# The one test command (README: `npm test`): installs what is missing, builds pkg/, then
# runs every test: Rust (core and origin: unit, integration, Wycheproof), the no_std build,
# and the JS tests (Node import, jose interop, revocation sync, headless Chromium, and end
# to end: origin binary + Next.js middleware + admin UI and demo page in Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-tools.sh
bash scripts/build-pkg.sh

echo "== no_std: the core builds for thumbv7em-none-eabi (no std available there), bare and with the cache, the fast path and sign"
cargo build --lib --no-default-features --target thumbv7em-none-eabi
cargo build --lib --no-default-features --features cache,precomputed-tables,sign --target thumbv7em-none-eabi

echo "== the fuzz harness (its own workspace) builds against the core's sign module"
(cd fuzz && cargo check --all-targets --quiet)

echo "== Rust tests"
cargo test --workspace

echo "== Without std: the cache, the fast path (asserted in use) and the trust state on spin locks"
cargo test -p edgetoken --no-default-features --features cache,precomputed-tables,sign --lib --test trust --test cache --test fastpath

echo "== Fast path vs p256: 100,000-case differential test and Wycheproof, optimised build"
cargo test --release -p edgetoken --test fastpath

echo "== build the origin and the Next.js example for the end-to-end tests"
cargo build -p edgetoken-origin
(cd examples/nextjs && { npm ls --depth=0 >/dev/null 2>&1 || npm ci --no-audit --no-fund; } && npx next build --webpack)

echo "== JS tests (pkg in Node, workerd, EdgeVM, headless Chromium; Next.js end to end)"
node --test --test-concurrency=1 tests/js/
