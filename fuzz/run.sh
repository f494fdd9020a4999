#!/usr/bin/env bash
# Runs one cargo-fuzz target for a fixed time:  fuzz/run.sh TARGET SECONDS [extra libFuzzer args]
#
# Targets: verify_token jwks_parse revocation_parse verify_signed revocation_signed
# (see fuzz/src/lib.rs and docs/RELIABILITY.md). The machine has only the stable toolchain;
# cargo-fuzz needs nightly flags (-Zsanitizer, -Cpasses=sancov...), so RUSTC_BOOTSTRAP=1 lets
# stable rustc accept them. FUZZ_SANITIZER picks the sanitizer (default: address; "none"
# if ASan does not work on a machine). Seeds are generated (deterministically) when the
# corpus is empty; crashes land in fuzz/artifacts/TARGET/, the log in fuzz/logs/TARGET.log.
#
# Limits: -rss_limit_mb=2048 (any input that makes the process exceed 2 GiB is a finding:
# unbounded allocation) and -malloc_limit_mb=2048; -max_len per target (tokens 64 KiB, the
# largest maxTokenSize; key sets 64 KiB, MAX_JWKS_SIZE + a margin; artifacts 1 MiB).
# One job, in process: libFuzzer's default (-jobs=1 would fork one child whose output goes
# to fuzz-0.log instead of the terminal; same work).
set -euo pipefail
cd "$(dirname "$0")"

target=${1:?usage: fuzz/run.sh TARGET SECONDS}
seconds=${2:?usage: fuzz/run.sh TARGET SECONDS}
shift 2
sanitizer=${FUZZ_SANITIZER:-address}
export RUSTC_BOOTSTRAP=1

# verify_signed signs every input (~600 exec/s): libFuzzer's length control would keep its
# mutations under ~200 bytes for minutes, shorter than a full claims set, so it is off there.
extra=()
case "$target" in
  verify_token) max_len=65600 ;;
  verify_signed) max_len=65600; extra=(-len_control=0) ;;
  jwks_parse) max_len=66000 ;;
  revocation_parse|revocation_signed) max_len=1048576 ;;
  *) echo "unknown target $target" >&2; exit 2 ;;
esac

if [ -z "$(ls -A "corpus/$target" 2>/dev/null)" ]; then
  cargo run --quiet --example make_seeds -- corpus
fi
mkdir -p logs "artifacts/$target"

cargo fuzz run --sanitizer "$sanitizer" "$target" "corpus/$target" -- \
  -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=2048 -max_len="$max_len" \
  -timeout=10 -print_final_stats=1 "${extra[@]}" "$@" 2>&1 | tee "logs/$target.log"
