#!/usr/bin/env bash
# The one run command (README: `npm start`): builds what is missing, then starts the origin
# (embedded SQLite, demo admin and user with generated passwords), which serves the admin UI
# and the demo page, and the Next.js example whose edge middleware verifies its tokens.
# Prints the URLs and credentials; Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

ORIGIN_PORT=${ORIGIN_PORT:-8080}
NEXT_PORT=${NEXT_PORT:-3000}
DATA_DIR=${EDGETOKEN_DATA_DIR:-.data}
mkdir -p "$DATA_DIR"

bash scripts/ensure-tools.sh
bash scripts/build-pkg.sh
cargo build --release -p edgetoken-origin
(cd examples/nextjs && { npm ls --depth=0 >/dev/null 2>&1 || npm ci --no-audit --no-fund; } && npx next build --webpack >/dev/null)

pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "stopped"
}
trap cleanup INT TERM EXIT

origin="http://127.0.0.1:${ORIGIN_PORT}"
./target/release/edgetoken-origin --listen "127.0.0.1:${ORIGIN_PORT}" --db "$DATA_DIR/origin.db" \
  --demo --www www --pkg pkg/ &
pids+=($!)
for _ in $(seq 1 100); do curl -fsS "$origin/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

(cd examples/nextjs && EDGETOKEN_ORIGIN="$origin" exec npx next start -H 127.0.0.1 -p "$NEXT_PORT") &
pids+=($!)

cat <<MSG

edgetoken is running:
  origin + admin UI   $origin/admin.html
  demo page           $origin/demo.html
  Next.js example     http://127.0.0.1:${NEXT_PORT}/protected   (edge middleware; sign in on the origin first)
  JWKS                $origin/.well-known/jwks.json
  revocation filter   $origin/revocations
The demo credentials are printed by the origin above. Ctrl-C stops everything.
MSG
wait -n "${pids[@]}"
