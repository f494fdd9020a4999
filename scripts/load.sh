#!/usr/bin/env bash
# Load benchmark of the origin (docs/RELIABILITY.md, "Load"). Not part of `npm test`.
#
#   bash scripts/load.sh            # 20 s per mix, 16 connections
#   LOAD_DURATION=30 LOAD_THREADS=32 bash scripts/load.sh
#
# Builds the release origin, starts it on a free 127.0.0.1 port with a fresh SQLite file,
# creates users, logs in sessions, then drives it with wrk from a second process (one
# connection per wrk thread, so every client knows which session each response is for):
#   verify  : GET /api/sessions with a Bearer access token (full token check + DB read)
#   refresh : POST /api/refresh, each client following its sessions' rotation chains
#   login   : POST /api/login (argon2id, m=19 MiB, t=2)
#   mixed   : verify 70 %, refresh 25 %, login 5 %
# (20 users by default: more than 5 parallel logins to one account get 429 Retry-After: 1
# from the throttle, which counts a login from the moment its password check starts.)
# plus edge-side verification in a Node process (pkg's Verifier + RevocationSync).
# After every mix it checks that no session is lost (scripts/load/check.mjs) and at the
# end refreshes every client session through the API. Results: $LOAD_WORK/summary.json.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${LOAD_DURATION:-20}
THREADS=${LOAD_THREADS:-16}
SESSIONS=${LOAD_SESSIONS_N:-200}
USERS=${LOAD_USERS_N:-20}
WORK=${LOAD_WORK:-$(mktemp -d /tmp/edgetoken-load.XXXXXX)}
mkdir -p "$WORK"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v sqlite3 >/dev/null || { apt-get update -qq && apt-get install -y -qq sqlite3; }
[ -f pkg/gen/edgetoken_bg.wasm ] || npm run build
cargo build --release -p edgetoken-origin
BIN=target/release/edgetoken-origin
DB="$WORK/origin.db"

echo "== $USERS users"
: > "$WORK/users.txt"
for i in $(seq 1 "$USERS"); do
  pw="load-password-$i-$RANDOM$RANDOM"
  EDGETOKEN_NEW_PASSWORD="$pw" "$BIN" --db "$DB" create-user --email "load$i@example.com" >/dev/null
  echo "load$i@example.com $pw" >> "$WORK/users.txt"
done

PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
URL="http://127.0.0.1:$PORT"
"$BIN" --listen "127.0.0.1:$PORT" --db "$DB" > "$WORK/origin.log" 2>&1 &
ORIGIN=$!
trap 'kill $ORIGIN 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fs "$URL/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

echo "== seed $SESSIONS sessions"
node scripts/load/seed.mjs "$URL" "$WORK/users.txt" "$SESSIONS" "$WORK/sessions-0.sessions"

state="$WORK/sessions-0.sessions"
n=0
for mix in "verify=100" "refresh=100" "login=100" "verify=70,refresh=25,login=5"; do
  n=$((n + 1))
  name=$(echo "$mix" | tr ',=' '_-')
  echo "== mix $mix: wrk -t$THREADS -c$THREADS -d${DURATION}s"
  LOAD_MIX="$mix" LOAD_THREADS="$THREADS" LOAD_SESSIONS="$state" LOAD_USERS="$WORK/users.txt" LOAD_OUT="$WORK/$n-$name" \
    wrk -t"$THREADS" -c"$THREADS" -d"${DURATION}s" --timeout 10s -s scripts/load/mix.lua "$URL" > "$WORK/$n-$name.wrk.txt"
  cat "$WORK/$n-$name.json"
  # Clients whose last refresh was cut off by wrk's stop retry it at once (inside the grace).
  node scripts/load/check.mjs --settle "$WORK/$n-$name.settled" "$DB" "$WORK/$n-$name.sessions" "$URL" | tee "$WORK/$n-$name.check.json"
  state="$WORK/$n-$name.settled"
done

echo "== edge verify (Node, pkg Verifier + RevocationSync), 5 s per cache setting"
node scripts/load/edge-verify.mjs "$URL" "$state" 5 | tee "$WORK/edge-verify.json"

echo "== final check: every client session refreshes through the API"
node scripts/load/check.mjs "$DB" "$state" "$URL" | tee "$WORK/final.check.json"
server_errors=$(grep -c "internal error" "$WORK/origin.log" || true)
node -e '
const fs = require("fs"), w = process.argv[1];
const mixes = fs.readdirSync(w).filter((f) => /^\d-.*\.json$/.test(f) && !f.includes("check")).sort()
  .map((f) => ({ ...JSON.parse(fs.readFileSync(`${w}/${f}`)), check: JSON.parse(fs.readFileSync(`${w}/${f.replace(".json", ".check.json")}`)) }));
const summary = { machine: `${require("os").cpus().length} cores, ${require("os").cpus()[0].model}`, mixes,
  edge: JSON.parse(fs.readFileSync(`${w}/edge-verify.json`)), final: JSON.parse(fs.readFileSync(`${w}/final.check.json`)),
  origin_log_internal_errors: Number(process.argv[2]) };
fs.writeFileSync(`${w}/summary.json`, JSON.stringify(summary, null, 2));
console.log("\n| mix | requests/s | p50 ms | p99 ms | 5xx | other non-2xx | lost sessions |");
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const m of mixes) {
  const byStatus = Object.entries(m.by_op_status);
  const fivexx = byStatus.filter(([k]) => / 5\d\d$/.test(k)).reduce((a, [, v]) => a + v, 0);
  const other = byStatus.filter(([k]) => !/ 200$/.test(k) && !/ 5\d\d$/.test(k)).reduce((a, [, v]) => a + v, 0);
  console.log(`| ${m.mix} | ${m.rps.toFixed(0)} | ${m.latency_ms.p50} | ${m.latency_ms.p99} | ${fivexx} | ${other} | ${m.check.lost} |`);
}
' "$WORK" "$server_errors"
echo "results in $WORK (summary.json)"
