// pkg/index.d.ts under the TypeScript compiler (npm's `typescript`, a dev dependency):
// VerifyResult narrows with `strict: false` as well as `strict: true`, the documented
// usage compiles, and misuse (a string `now`, the removed `revocationUrl`) does not.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const tsc = (config) =>
  spawnSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", `tests/js/types/${config}`], { cwd: root, encoding: "utf8" });
const errorLines = (out) => [...out.matchAll(/misuse\.ts\((\d+),\d+\): error (TS\d+)/g)].map((m) => `${m[1]}:${m[2]}`);

for (const mode of ["strict", "loose"]) {
  test(`the documented usage type-checks (${mode})`, () => {
    const r = tsc(`tsconfig.${mode}.json`);
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  test(`misuse is a type error (${mode})`, () => {
    const r = tsc(`tsconfig.misuse-${mode}.json`);
    assert.notEqual(r.status, 0);
    const want = ["9:TS2345", "10:TS2561"];
    // Only strictNullChecks can say that a success has no code.
    if (mode === "strict") want.unshift("6:TS2322");
    assert.deepEqual(errorLines(r.stdout), want, r.stdout);
  });
}
