// pkg in headless Chromium: the browser entry (`await init()`), verifying real tokens.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { AUDIENCE, ISSUER, NOW, forge, issuerKeys, mint, standardClaims } from "./helpers.js";
import { serveStatic } from "./static-server.js";
import { launchChromium } from "./chromium.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const { server, url } = await serveStatic(root);
const browser = await launchChromium();
after(async () => {
  await browser.close();
  server.close();
});

test("pkg verifies tokens in headless Chromium", async () => {
  const keys = await issuerKeys();
  const good = await mint(keys);
  const [, , s] = good.split(".");
  const tokens = {
    good,
    expired: await mint(keys, standardClaims({ iat: NOW - 1000, exp: NOW - 100 })),
    none: forge({ alg: "none", typ: "at+jwt" }, standardClaims()),
    tampered: good.slice(0, -4) + (good.endsWith("AAAA") ? "BBBB" : "AAAA"),
    wrongAud: await mint(keys, standardClaims({ aud: "https://other.example" })),
    jwkHeader: forge({ alg: "ES256", typ: "at+jwt", jwk: keys.jwk }, standardClaims(), s),
  };
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  await page.goto(`${url}/tests/js/blank.html`);
  const results = await page.evaluate(
    async ({ pkgUrl, tokens, options, now }) => {
      const { init, Verifier, errorCodes } = await import(pkgUrl);
      await init();
      const v = new Verifier(options);
      const out = { codes: errorCodes(), userAgent: navigator.userAgent };
      for (const [name, token] of Object.entries(tokens)) out[name] = v.verify(token, now);
      return out;
    },
    {
      pkgUrl: `${url}/pkg/browser.js`,
      tokens,
      options: { issuer: ISSUER, audience: AUDIENCE, jwks: keys.jwks },
      now: NOW,
    },
  );
  assert.deepEqual(errors, []);
  assert.match(results.userAgent, /HeadlessChrome|Chromium|Chrome/);
  assert.equal(results.good.ok, true, results.good.message);
  assert.equal(results.good.claims.sub, "user-1");
  assert.equal(results.expired.code, "expired");
  assert.equal(results.none.code, "alg_not_allowed");
  assert.equal(results.tampered.code, "bad_signature");
  assert.equal(results.wrongAud.code, "audience_mismatch");
  assert.equal(results.jwkHeader.code, "header_not_allowed");
  assert.ok(results.codes.includes("revocations_stale"));
});
