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

# Two modules: the verifier edges load (`wasm`) and the filter builder origins load
# (`wasm-builder`, with signing code), so edges never download what only origins use.
# Names and producers sections are dropped: they are debugging aids, a fifth of the bytes.
rm -rf pkg/gen
build_module() { # feature out-name
  cargo build --lib --release --target wasm32-unknown-unknown --no-default-features --features "$1"
  wasm-bindgen --target web --remove-name-section --remove-producers-section \
    --out-dir pkg/gen --out-name "$2" target/wasm32-unknown-unknown/release/edgetoken.wasm
  patch_module_check "pkg/gen/$2.js"
}

# Edge sandboxes (Next.js middleware, EdgeVM) hand us a WebAssembly.Module compiled in the
# host realm, so the glue's `instanceof WebAssembly.Module` is false there and it would try
# to compile the Module object as bytes. Compare the realm-independent toString tag instead.
patch_module_check() { # glue.js
  local glue=$1
  local before='!(module instanceof WebAssembly.Module)'
  local after='Object.prototype.toString.call(module) !== "[object WebAssembly.Module]"'
  if [ "$(grep -cF "$before" "$glue")" != 1 ]; then
    echo "build-pkg: wasm-bindgen glue changed; cannot patch the cross-realm Module check" >&2
    exit 1
  fi
  sed -i "s/$(printf '%s' "$before" | sed 's/[][\\/.*^$]/\\&/g')/$(printf '%s' "$after" | sed 's/[\\/&]/\\&/g')/" "$glue"
  grep -qF "$after" "$glue"
}

build_module wasm edgetoken
build_module wasm-builder edgetoken_builder

# No wasm-opt pass: Debian's binaryen (108) corrupts the externref table that current
# wasm-bindgen emits (Node: "WebAssembly.Table.set(): Argument 1 is invalid").
for m in edgetoken edgetoken_builder; do
  echo "pkg built: ${m}_bg.wasm $(wc -c < "pkg/gen/${m}_bg.wasm") bytes raw, $(gzip -9 -c "pkg/gen/${m}_bg.wasm" | wc -c) bytes gzip"
done
