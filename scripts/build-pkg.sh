#!/usr/bin/env bash
# Builds pkg/ (the npm package) from a clean checkout: the wasm32 target and a
# wasm-bindgen CLI of exactly the version in Cargo.lock are installed when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

# The CLI must match the wasm-bindgen crate exactly, or the generated glue is refused.
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ -z "$want" ]; then
  cargo generate-lockfile
  want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
fi
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  echo "installing wasm-bindgen-cli $want (found: ${have:-none}); this takes a few minutes" >&2
  cargo install wasm-bindgen-cli --version "=$want"
fi

cargo build --lib --release --target wasm32-unknown-unknown --no-default-features --features wasm
rm -rf pkg/gen
wasm-bindgen --target web --out-dir pkg/gen --out-name edgetoken \
  target/wasm32-unknown-unknown/release/edgetoken.wasm

# Edge sandboxes (Next.js middleware, EdgeVM) hand us a WebAssembly.Module compiled in the
# host realm, so the glue's `instanceof WebAssembly.Module` is false there and it would try
# to compile the Module object as bytes. Compare the realm-independent toString tag instead.
glue=pkg/gen/edgetoken.js
before='!(module instanceof WebAssembly.Module)'
after='Object.prototype.toString.call(module) !== "[object WebAssembly.Module]"'
if [ "$(grep -cF "$before" "$glue")" != 1 ]; then
  echo "build-pkg: wasm-bindgen glue changed; cannot patch the cross-realm Module check" >&2
  exit 1
fi
sed -i "s/$(printf '%s' "$before" | sed 's/[][\\/.*^$]/\\&/g')/$(printf '%s' "$after" | sed 's/[\\/&]/\\&/g')/" "$glue"
grep -qF "$after" "$glue"

# No wasm-opt pass: Debian's binaryen (108) corrupts the externref table that current
# wasm-bindgen emits (Node: "WebAssembly.Table.set(): Argument 1 is invalid").
raw=$(wc -c < pkg/gen/edgetoken_bg.wasm)
gz=$(gzip -9 -c pkg/gen/edgetoken_bg.wasm | wc -c)
echo "pkg built: edgetoken_bg.wasm ${raw} bytes raw, ${gz} bytes gzip"
