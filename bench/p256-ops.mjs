// Cost of p256 0.14's public group operations, natively and in wasm, next to OpenSSL and
// WebCrypto in the same Node process: `node bench/p256-ops.mjs` (builds bench/p256-ops).
// A benchmark, never a test. It bounds what any verification built from these operations
// can reach: see "Why the first-sight targets are out of reach" in BENCHMARKS.md.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import crypto from "node:crypto";
import { fileURLToPath } from "node:url";

const dir = fileURLToPath(new URL("./p256-ops/", import.meta.url));
const cargo = (...args) => execFileSync("cargo", ["build", "--release", "--quiet", ...args], { cwd: dir, stdio: "inherit" });
cargo();
cargo("--lib", "--target", "wasm32-unknown-unknown");
const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const native = JSON.parse(execFileSync(`${dir}target/release/p256-ops`, { encoding: "utf8" }));
const wasmBytes = readFileSync(`${dir}target/wasm32-unknown-unknown/release/p256_ops.wasm`);
const { instance } = await WebAssembly.instantiate(wasmBytes);
const runs = { mixed_add: 50_000, double: 50_000, to_affine: 2_000, scalar_invert: 5_000, field_mul: 500_000 };
const wasm = {};
for (const [op, n] of Object.entries(runs)) {
  instance.exports[op](n); // warm-up and tier-up
  wasm[op] = median(Array.from({ length: 9 }, () => {
    const t = performance.now();
    instance.exports[op](n);
    return ((performance.now() - t) * 1000) / n;
  }));
}

// Peers in the same process: one bare P-256 signature check each.
const { publicKey, privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
const data = Buffer.from("x".repeat(300));
const sig = crypto.sign("sha256", data, { key: privateKey, dsaEncoding: "ieee-p1363" });
const subtleKey = await crypto.subtle.importKey("jwk", publicKey.export({ format: "jwk" }), { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
const nodeRounds = [], subtleRounds = [];
for (let r = 0; r < 9; r++) {
  let t = performance.now();
  for (let i = 0; i < 200; i++) crypto.verify("sha256", data, { key: publicKey, dsaEncoding: "ieee-p1363" }, sig);
  nodeRounds.push(((performance.now() - t) * 1000) / 200);
  t = performance.now();
  for (let i = 0; i < 200; i++) await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, subtleKey, sig, data);
  subtleRounds.push(((performance.now() - t) * 1000) / 200);
}
const nodeVerify = median(nodeRounds), subtleVerify = median(subtleRounds);

const f = (x) => (x < 1 ? x.toFixed(3) : x.toFixed(2));
console.log("| operation | native µs | wasm µs | wasm / native |\n|---|---:|---:|---:|");
for (const op of Object.keys(runs)) console.log(`| ${op} | ${f(native[op])} | ${f(wasm[op])} | ${(wasm[op] / native[op]).toFixed(1)}x |`);
console.log(`\nSame process: node:crypto.verify ${f(nodeVerify)} µs, awaited crypto.subtle.verify ${f(subtleVerify)} µs.`);
// A table-based verification is at least: (rows of G + rows of Q) mixed additions, one
// to_affine and one scalar inversion; everything else (SHA-256, base64, JSON, policy) adds.
const floor = (adds, ops) => adds * ops.mixed_add + ops.to_affine + ops.scalar_invert;
for (const [label, adds] of [["w=7 G / w=6 key tables (shipped): 37 + 43", 80], ["w=8 / w=8: 33 + 33", 66], ["w=12 G / w=10 key (3.2 MB + 0.9 MB per key): 22 + 26", 48]]) {
  console.log(`Floor, ${label} = ${adds} additions: native ${f(floor(adds, native))} µs (${(floor(adds, native) / nodeVerify).toFixed(2)}x node:crypto), ` +
    `wasm ${f(floor(adds, wasm))} µs (${(floor(adds, wasm) / nodeVerify).toFixed(2)}x node:crypto, ${(floor(adds, wasm) / subtleVerify).toFixed(2)}x subtle)`);
}
const budget = Math.min(0.6 * subtleVerify, nodeVerify);
console.log(`Wasm first-sight budget (≤ 0.6x subtle and ≤ 1.0x node:crypto): ${f(budget)} µs = at most ` +
  `${Math.floor((budget - wasm.to_affine - wasm.scalar_invert) / wasm.mixed_add)} mixed additions, nothing else counted.`);
console.log(`Native budget (≤ 0.5x node:crypto): ${f(0.5 * nodeVerify)} µs = at most ` +
  `${Math.floor((0.5 * nodeVerify - native.to_affine - native.scalar_invert) / native.mixed_add)} mixed additions.`);
