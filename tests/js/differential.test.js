// Differential test: edgetoken (pkg) against jose (panva/jose, WebCrypto), configured alike,
// on 12,000 tokens generated deterministically (seeded PRNG): valid tokens, time edges,
// wrong iss/aud, missing claims, mutated bytes in every segment, header variants, numeric
// edge cases, duplicate members, base64/whitespace/padding variants, long lifetimes,
// signature encodings and payload structure.
//
// Every disagreement must have a known reason (REASONS below) whose expected edgetoken
// error code is the code edgetoken returned; edgetoken must never accept a token jose
// refuses unless the case is listed in LOOSER (with a justification; the list is empty).
// The intended differences are documented in docs/RELIABILITY.md ("Differential testing
// against jose") and README ("Where edgetoken is deliberately stricter than jose").
import { test } from "node:test";
import assert from "node:assert/strict";
import { createPrivateKey, generateKeyPairSync, sign as cryptoSign } from "node:crypto";
import { SignJWT, jwtVerify, createLocalJWKSet } from "jose";
import { Verifier } from "edgetoken";
import { AUDIENCE, ISSUER, NOW } from "./helpers.js";

const TOTAL = 12_000;
const SEED = 0x5eed_2026;
const MAX_LIFETIME = 900;
const TOLERANCE = 30;

// The signing key: RFC 7515 A.3's published test key (fixed, so runs are reproducible).
const PRIVATE_JWK = {
  kty: "EC",
  crv: "P-256",
  d: "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI",
  x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
  y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
};
const PUBLIC_JWK = { kty: "EC", crv: "P-256", x: PRIVATE_JWK.x, y: PRIVATE_JWK.y, kid: "k1", alg: "ES256", use: "sig" };
const JWKS = { keys: [PUBLIC_JWK] };
const privateKey = createPrivateKey({ key: PRIVATE_JWK, format: "jwk" });
const otherKey = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey; // an attacker's key
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

const verifier = new Verifier({ issuer: ISSUER, audience: AUDIENCE, jwks: JWKS });
const joseKeys = createLocalJWKSet(JWKS); // selects by kid and alg, like edgetoken's key set
const joseOptions = {
  issuer: ISSUER,
  audience: AUDIENCE,
  algorithms: ["ES256"],
  typ: "at+jwt",
  clockTolerance: TOLERANCE,
  maxTokenAge: MAX_LIFETIME, // jose's nearest option to maxTokenLifetime (it bounds now - iat)
  requiredClaims: ["iss", "aud", "exp", "iat", "sub", "jti"],
  currentDate: new Date(NOW * 1000),
};

// ---------------------------------------------------------------- deterministic PRNG
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = mulberry32(SEED);
const int = (n) => Math.floor(rand() * n);
const pick = (items) => items[int(items.length)];
const chance = (p) => rand() < p;

// ---------------------------------------------------------------- token building
const b64 = (data) => Buffer.from(data).toString("base64url");
const HEADER = { alg: "ES256", typ: "at+jwt", kid: "k1" };

function signInput(input, { key = privateKey, encoding = "ieee-p1363" } = {}) {
  return cryptoSign("sha256", Buffer.from(input), { key, dsaEncoding: encoding });
}
/** Signs already-encoded segments (lets tests put padding/whitespace into the signed text). */
function signSegments(h, p, options) {
  return `${h}.${p}.${b64(signInput(`${h}.${p}`, options))}`;
}
/** header: object or JSON text or Buffer; payload: JSON text or Buffer. */
function signToken(header, payload, options) {
  const h = typeof header === "object" && !Buffer.isBuffer(header) ? JSON.stringify(header) : header;
  return signSegments(b64(h), b64(payload), options);
}

/** Claims as [name, raw JSON literal] pairs, so numeric literals are kept verbatim. */
function claimPairs(overrides = {}) {
  const iat = overrides.iat ?? NOW;
  const base = {
    iss: JSON.stringify(ISSUER),
    aud: JSON.stringify(AUDIENCE),
    sub: JSON.stringify("user-1"),
    sid: JSON.stringify("session-1"),
    jti: JSON.stringify(`token-${int(1e9)}`),
    iat: String(iat),
    exp: String(iat + 600),
  };
  const pairs = Object.entries(base);
  for (const [k, v] of Object.entries(overrides)) {
    const raw = v === undefined ? undefined : typeof v === "object" && v && "raw" in v ? v.raw : JSON.stringify(v);
    const at = pairs.findIndex(([name]) => name === k);
    if (raw === undefined) {
      if (at >= 0) pairs.splice(at, 1);
    } else if (at >= 0) pairs[at][1] = raw;
    else pairs.push([k, raw]);
  }
  return pairs;
}
const render = (pairs) => `{${pairs.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",")}}`;
const raw = (text) => ({ raw: text });
const payload = (overrides) => render(claimPairs(overrides));

// ---------------------------------------------------------------- generators
const randomValidTimes = () => {
  const iat = NOW - int(800) + int(25);
  const exp = Math.max(iat, NOW - 29) + 1 + int(MAX_LIFETIME - (Math.max(iat, NOW - 29) + 1 - iat));
  return { iat, exp };
};
const UNICODE = ["user-1", "é", "ü✓", "\u0000", "😀", "a\\\"b", "\u2028", "x".repeat(300)];

const generators = {
  async valid() {
    const { iat, exp } = randomValidTimes();
    const aud = pick([AUDIENCE, [AUDIENCE], ["https://x.example", AUDIENCE], [AUDIENCE, AUDIENCE]]);
    const extra = pick([{}, { scope: "read write" }, { roles: ["a", "b"], n: 1.5 }, { "é": pick(UNICODE) }, { nested: { a: [1, { b: null }] } }]);
    const sub = pick(UNICODE);
    if (chance(0.3)) {
      // jose's own signer.
      const jwt = new SignJWT({ sub, jti: `j-${int(1e9)}`, ...extra })
        .setProtectedHeader({ alg: "ES256", typ: pick(["at+jwt", "application/at+jwt", "AT+JWT"]), kid: "k1" })
        .setIssuer(ISSUER).setAudience(aud).setIssuedAt(iat).setExpirationTime(exp);
      if (chance(0.3)) jwt.setNotBefore(iat - int(60));
      return jwt.sign(privateKey);
    }
    const o = { iat, exp, aud, sub, ...extra };
    if (chance(0.3)) o.nbf = iat + int(40);
    if (chance(0.2)) o.sid = undefined;
    return signToken(chance(0.2) ? { alg: "ES256", typ: "at+jwt" } : HEADER, payload(o));
  },

  async timeEdges() {
    const d = int(5) - 2; // -2..2 around each boundary
    const edge = pick([
      () => ({ iat: NOW - 600, exp: NOW - TOLERANCE + d }), // exp boundary
      () => ({ nbf: NOW + TOLERANCE + d }), // nbf boundary
      () => ({ iat: NOW + TOLERANCE + d, exp: NOW + TOLERANCE + d + 300 }), // iat in the future
      () => ({ iat: NOW - 100, exp: NOW - 100 + MAX_LIFETIME + d }), // lifetime boundary
      () => ({ iat: NOW - MAX_LIFETIME - TOLERANCE + d, exp: NOW + 1 }), // age boundary
      () => ({ iat: NOW, exp: NOW + d }), // exp around iat (exp < iat when d < 0)
      () => ({ iat: NOW - 20, exp: NOW - 25 + d }), // exp before iat, inside the tolerance
      () => ({ iat: 0, exp: 600 + d }),
      () => ({ nbf: 0 }),
      () => ({ iat: NOW + d, exp: NOW + d + MAX_LIFETIME }),
    ]);
    return signToken(HEADER, payload(edge()));
  },

  async expired() {
    const exp = NOW - TOLERANCE - 1 - int(100000);
    return signToken(HEADER, payload({ iat: exp - 1 - int(MAX_LIFETIME), exp }));
  },

  async wrongIssuerAudience() {
    const o = pick([
      { iss: "https://evil.example" }, { iss: ISSUER + "/" }, { iss: ISSUER.toUpperCase() }, { iss: "" },
      { iss: [ISSUER] }, { iss: null }, { iss: 1 }, { iss: raw(JSON.stringify(ISSUER).replace("a", "\\u0061")) },
      { aud: "https://other.example" }, { aud: AUDIENCE + "/" }, { aud: [] }, { aud: ["x", "y"] },
      { aud: null }, { aud: 5 }, { aud: { a: AUDIENCE } }, { aud: [AUDIENCE, 5] }, { aud: [[AUDIENCE]] },
      { aud: raw(JSON.stringify(AUDIENCE).replace("p", "\\u0070")) }, { aud: [null, AUDIENCE] },
    ]);
    return signToken(HEADER, payload(o));
  },

  async missingOrMistyped() {
    const name = pick(["iss", "aud", "exp", "iat", "sub", "jti", "sid", "nbf"]);
    const value = pick([undefined, null, true, 1, "x", [], {}, ["a"]]);
    return signToken(HEADER, payload({ [name]: value }));
  },

  async mutatedBytes() {
    const good = signToken(HEADER, payload(randomValidTimes()));
    const segs = good.split(".");
    const s = int(3);
    const seg = segs[s];
    const pos = int(seg.length);
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const op = int(6);
    if (op === 0) segs[s] = seg.slice(0, pos) + pick(alphabet.replace(seg[pos], "")) + seg.slice(pos + 1);
    else if (op === 1) segs[s] = seg.slice(0, pos) + seg.slice(pos + 1);
    else if (op === 2) segs[s] = seg.slice(0, pos) + pick(alphabet) + seg.slice(pos);
    else if (op === 3) segs[s] = seg.slice(0, pos) + pick(["+", "/", "=", " ", ".", "\n", "%", "é", "\u0000"]) + seg.slice(pos + 1);
    else if (op === 4) {
      // Flip one bit of the decoded bytes and re-encode (canonical, not re-signed).
      const bytes = Buffer.from(seg, "base64url");
      bytes[int(bytes.length)] ^= 1 << int(8);
      segs[s] = b64(bytes);
    } else segs[s] = seg.slice(0, int(seg.length)); // truncate
    return segs.join(".");
  },

  async headerVariants() {
    const h = { ...HEADER };
    const which = int(6);
    if (which === 0) h.alg = pick(["es256", "ES256 ", "none", "None", "NONE", "HS256", "RS256", "PS256", "ES384", "ES512", "EdDSA", "", null, 256, ["ES256"], undefined, "ES256\u0000"]);
    else if (which === 1) h.typ = pick(["at+jwt", "AT+JWT", "application/at+jwt", "Application/At+JWT", "JWT", "jwt", "at+JWT ", "", null, 1, undefined, "x/at+jwt", "application/jwt"]);
    else if (which === 2) h.kid = pick(["k1", "k2", "", "K1", " k1", "k".repeat(300), 1, null, undefined, ["k1"]]);
    else if (which === 3) {
      Object.assign(h, pick([
        { crit: ["exp"] }, { crit: [] }, { crit: ["b64"], b64: true }, { crit: ["b64"], b64: false }, { crit: "b64" },
        { b64: true }, { b64: false }, { zip: "DEF" },
      ]));
    } else if (which === 4) {
      Object.assign(h, pick([
        { jwk: { kty: PUBLIC_JWK.kty, crv: PUBLIC_JWK.crv, x: PUBLIC_JWK.x, y: PUBLIC_JWK.y } }, { jku: "https://evil.example/jwks" },
        { x5u: "https://evil.example/x5u" }, { x5c: ["MIIB"] }, { x5t: "abc" }, { cty: "JWT" }, { cty: "at+jwt" }, { extra: { a: 1 } },
      ]));
    } else {
      // Header JSON text variants (whitespace, escapes, ordering).
      const text = pick([
        '{ "alg" : "ES256" , "typ" : "at+jwt" , "kid" : "k1" }',
        '{"kid":"k1","typ":"at+jwt","alg":"ES256"}',
        '{"alg":"ES\\u0032\\u0035\\u0036","typ":"at+jwt","kid":"k1"}',
        '{"alg":"ES256","typ":"at\\/jwt","kid":"k1"}',
        '{"alg":"ES256","typ":"at+jwt","kid":"\\u006b1"}',
        '\r\n{"alg":"ES256","typ":"at+jwt","kid":"k1"}\t',
        '["ES256"]',
        '"ES256"',
        "{}",
        "null",
        Buffer.concat([Buffer.from('{"alg":"ES256","typ":"at+jwt","kid":"k1","x":"'), Buffer.from([0xff, 0xc3]), Buffer.from('"}')]),
      ]);
      return signToken(text, payload(randomValidTimes()));
    }
    return signToken(h, payload(randomValidTimes()));
  },

  async numericEdges() {
    const name = pick(["exp", "iat", "nbf"]);
    const base = { exp: NOW + 600, iat: NOW, nbf: NOW - 10 }[name];
    const literal = pick([
      `${base}.0`, `${base}.5`, `${base}e0`, `${base / 100}e2`, `${base}E+0`, `${(base / 1e9).toFixed(9)}e9`,
      "-0", "-1", `-${base}`, "0", "0.0", "1e400", "-1e400", "9007199254740991", "9007199254740992",
      "9007199254740993", "18446744073709551616", `"${base}"`, "true", "null", `[${base}]`, "{}",
      `0${base}`, `${base} `, ` ${base}`, "1.8e9", "NaN", "Infinity", String(base),
    ]);
    return signToken(HEADER, payload({ [name]: raw(literal) }));
  },

  async duplicates() {
    const pairs = claimPairs(randomValidTimes());
    const kind = int(5);
    if (kind === 0) {
      const [k, v] = pick(pairs);
      pairs.push([k, pick([v, JSON.stringify("other"), String(NOW + 10)])]);
    } else if (kind === 1) {
      pairs.push(["x", pick(['{"a":1,"a":2}', '[{"b":1,"b":1}]', '{"n":{"c":1,"c":1}}', '{"a":1,"A":2}'])]);
    } else if (kind === 2) {
      pairs.unshift(["exp", String(NOW + 100000)]); // a second, earlier exp
    } else if (kind === 3) {
      const h = pick([
        '{"alg":"ES256","alg":"ES256","typ":"at+jwt","kid":"k1"}',
        '{"alg":"none","alg":"ES256","typ":"at+jwt","kid":"k1"}',
        '{"alg":"ES256","typ":"JWT","typ":"at+jwt","kid":"k1"}',
        '{"alg":"ES256","typ":"at+jwt","kid":"k9","kid":"k1"}',
        '{"alg":"ES256","typ":"at+jwt","kid":"k1","x":{"y":1,"y":2}}',
      ]);
      return signToken(h, render(pairs));
    } else {
      return signToken(HEADER, render(pairs).replace(/}$/, ',"\\u0073ub":"dup"}')); // "sub" twice, once escaped
    }
    return signToken(HEADER, render(pairs));
  },

  async encodingVariants() {
    const h = b64(JSON.stringify(HEADER));
    const p = b64(payload(randomValidTimes()));
    const pad = (s) => s + "=".repeat((4 - (s.length % 4)) % 4 || pick([0, 4]));
    const bump = (s) => {
      // Set the unused low bits of the last character (non-canonical; same bytes for atob).
      const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
      const unused = s.length % 4 === 2 ? 4 : s.length % 4 === 3 ? 2 : 0;
      if (!unused) return s + "A"; // no spare bits: append a stray character instead
      const i = alphabet.indexOf(s.at(-1));
      return s.slice(0, -1) + alphabet[i | ((1 << unused) - 1)];
    };
    const space = (s) => {
      const i = 1 + int(s.length - 2);
      return s.slice(0, i) + pick([" ", "\n", "\t", "\r\n"]) + s.slice(i);
    };
    const std = (s) => s.replace(/-/g, "+").replace(/_/g, "/");
    switch (int(9)) {
      case 0: return signSegments(pad(h), p);
      case 1: return signSegments(h, pad(p));
      case 2: { const t = signSegments(h, p).split("."); return `${h}.${p}.${pad(t[2])}`; }
      case 3: return signSegments(bump(h), bump(p));
      case 4: { const t = signSegments(h, p).split("."); return `${h}.${p}.${bump(t[2])}`; }
      case 5: return signSegments(space(h), p);
      case 6: { const t = signSegments(h, p); return pick([` ${t}`, `${t} `, `${t}\n`, `\t${t}`]); }
      case 7: return signSegments(std(b64(JSON.stringify({ ...HEADER, x: "\u00fb\u00ff\u00fe" }))), p);
      default: {
        // Equivalent JSON encodings of the claims: pretty-printed, CRLF, escaped names.
        const text = pick([
          JSON.stringify(JSON.parse(payload(randomValidTimes())), null, 2),
          payload(randomValidTimes()).replace(/,/g, ",\r\n "),
          payload(randomValidTimes()).replace('"sub"', '"\\u0073ub"'),
        ]);
        return signToken(HEADER, text);
      }
    }
  },

  async longLifetimes() {
    const iat = NOW - int(60);
    const life = pick([MAX_LIFETIME + 1, MAX_LIFETIME + 31, 3600, 86400, 30 * 86400, 10 * 365 * 86400, 2 ** 31]);
    return signToken(HEADER, payload({ iat, exp: iat + life }));
  },

  async signatures() {
    const h = b64(JSON.stringify(HEADER));
    const p = b64(payload(randomValidTimes()));
    const input = `${h}.${p}`;
    const sig = signInput(input);
    const r = BigInt("0x" + sig.subarray(0, 32).toString("hex"));
    const s = BigInt("0x" + sig.subarray(32).toString("hex"));
    const hex32 = (n) => Buffer.from(n.toString(16).padStart(64, "0"), "hex");
    const variant = pick([
      () => Buffer.concat([hex32(r), hex32(N - s)]), // high/low-S twin: valid ECDSA
      () => signInput(input, { encoding: "der" }),
      () => sig.subarray(0, 63),
      () => Buffer.concat([sig, Buffer.from([0])]),
      () => Buffer.concat([Buffer.alloc(32), hex32(s)]),
      () => Buffer.concat([hex32(r), hex32(N)]),
      () => Buffer.concat([hex32(r + N), hex32(s)].map((b) => b.subarray(-32))),
      () => signInput(input, { key: otherKey }),
      () => signInput(`${h}.${b64(payload())}`),
      () => Buffer.alloc(0),
      () => sig,
    ]);
    return `${input}.${b64(variant())}`;
  },

  async payloadStructure() {
    const valid = payload(randomValidTimes());
    const variant = pick([
      () => "[1,2]", () => '"claims"', () => "42", () => "null", () => "", () => "{", () => `${valid} x`,
      () => `${valid}\n`, () => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(valid)]),
      () => Buffer.from(valid.replace("user-1", "user-\u0001")),
      () => Buffer.concat([Buffer.from(valid.slice(0, -1)), Buffer.from(',"bin":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]),
      () => valid.replace("}", ',"s":"\\ud800"}'),
      () => valid.replace("}", ',"s":"\\udc00\\ud800"}'),
      () => valid.replace("}", ',"s":"\\ud83d\\ude00"}'),
      () => valid.replace("}", `,"deep":${"[".repeat(120 + int(20))}${"]".repeat(120 + int(20))}}`),
      () => valid.replace("}", `,"pad":"${"x".repeat(6000 + int(3000))}"}`),
      () => valid.replace("}", ',"big":18446744073709551616,"f":1e308,"neg":-0}'),
    ]);
    return signToken(HEADER, variant());
  },
};

// Each token is generated by a generator chosen with these weights (out of 100).
const WEIGHTS = [
  ["valid", 14], ["timeEdges", 10], ["expired", 4], ["wrongIssuerAudience", 8], ["missingOrMistyped", 6],
  ["mutatedBytes", 12], ["headerVariants", 10], ["numericEdges", 9], ["duplicates", 6],
  ["encodingVariants", 8], ["longLifetimes", 3], ["signatures", 5], ["payloadStructure", 5],
];

// ---------------------------------------------------------------- analysis of a token
/** A small JSON scanner: duplicate names (any depth), lone surrogates, depth, top-level raw members. */
function scanJson(text) {
  let i = 0;
  let depth = 0;
  const out = { dup: false, lone: false, maxDepth: 0, members: null };
  const fail = () => {
    throw new SyntaxError(`bad JSON at ${i}`);
  };
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i])) i++;
  };
  const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y;
  function string() {
    const start = i++;
    for (;;) {
      if (i >= text.length) fail();
      const c = text[i];
      if (c === '"') break;
      if (c < " ") fail();
      i += c === "\\" ? 2 : 1;
    }
    i++;
    const s = JSON.parse(text.slice(start, i));
    if (!s.isWellFormed()) out.lone = true;
    return s;
  }
  function value(top) {
    ws();
    const c = text[i];
    if (c === "{" || c === "[") {
      const close = c === "{" ? "}" : "]";
      out.maxDepth = Math.max(out.maxDepth, ++depth);
      i++;
      const names = new Set();
      const members = [];
      ws();
      if (text[i] === close) i++;
      else {
        for (;;) {
          ws();
          let name;
          if (c === "{") {
            if (text[i] !== '"') fail();
            name = string();
            if (names.has(name)) out.dup = true;
            names.add(name);
            ws();
            if (text[i++] !== ":") fail();
          }
          ws();
          const start = i;
          value(false);
          if (c === "{") members.push([name, text.slice(start, i)]);
          ws();
          if (text[i] === ",") { i++; continue; }
          if (text[i] === close) { i++; break; }
          fail();
        }
      }
      depth--;
      if (top && c === "{") out.members = members;
      return;
    }
    if (c === '"') return void string();
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (!m) fail();
    i += m[0].length;
  }
  value(true);
  ws();
  if (i !== text.length) fail();
  return out;
}

const CANONICAL = /^[A-Za-z0-9_-]*$/;
function analyze(token) {
  const f = new Set();
  if (token.length > 8192) f.add("size");
  const segs = token.split(".");
  if (segs.length !== 3) return f;
  for (const s of segs) {
    if (s.includes("=")) f.add("padding");
    if (/\s/.test(s)) f.add("whitespace");
    const bare = s.replace(/[=\s]/g, "");
    if (CANONICAL.test(bare) && b64(Buffer.from(bare, "base64url")) !== bare) f.add("trailing-bits");
  }
  const decode = (s) => Buffer.from(s.replace(/[=\s]/g, ""), "base64url");
  const json = (bytes, prefix) => {
    let text;
    try {
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
    } catch {
      f.add(`${prefix}-utf8`);
      text = new TextDecoder().decode(bytes);
    }
    if (text.startsWith("\ufeff")) f.add(`${prefix}-bom`), (text = text.slice(1));
    try {
      const r = scanJson(text);
      if (r.dup) f.add("duplicates");
      if (r.lone) f.add("lone-surrogate");
      if (r.maxDepth >= 127) f.add("depth");
      return r.members && Object.fromEntries(r.members);
    } catch {
      return null;
    }
  };
  const header = json(decode(segs[0]), "header");
  if (header) {
    if (["jwk", "jku", "x5u", "x5c"].some((k) => k in header)) f.add("key-param");
    if (["crit", "b64", "zip"].some((k) => k in header)) f.add("crit-b64-zip");
  }
  const claims = json(decode(segs[1]), "payload");
  if (claims) {
    const dates = {};
    for (const name of ["exp", "iat", "nbf"]) {
      const lit = claims[name];
      if (lit === undefined) continue;
      if (/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(lit)) {
        if (lit.startsWith("-")) f.add("numericdate-negative");
        else if (/[.eE]/.test(lit)) f.add("numericdate-float");
        else if (BigInt(lit) > 2n ** 53n) f.add("numericdate-range");
        else dates[name] = Number(lit);
      }
    }
    if (dates.exp !== undefined && dates.iat !== undefined) {
      if (dates.exp - dates.iat > MAX_LIFETIME) f.add("lifetime");
      if (dates.exp < dates.iat) f.add("exp-before-iat");
    }
    for (const name of ["sub", "jti", "sid"]) {
      if (claims[name] !== undefined && !claims[name].startsWith('"')) f.add("id-type");
    }
    if (claims.aud?.startsWith("[")) {
      try {
        if (JSON.parse(claims.aud).some((a) => typeof a !== "string")) f.add("aud-non-string");
      } catch {}
    }
  }
  return f;
}

/**
 * Intended differences: edgetoken refuses, jose accepts. A disagreement is explained by
 * the first reason whose feature the token has AND whose code edgetoken returned.
 */
const REASONS = [
  { name: "token size limit (8 KiB)", feature: "size", code: "too_large",
    why: "maxTokenSize is checked before decoding; jose has no size limit" },
  { name: "base64url padding", feature: "padding", code: "malformed",
    why: "one encoding per token: '=' is refused (jose's atob tolerates it)" },
  { name: "base64url whitespace", feature: "whitespace", code: "malformed",
    why: "whitespace inside or around a segment is refused (atob strips it)" },
  { name: "base64url non-zero trailing bits", feature: "trailing-bits", code: "malformed",
    why: "non-canonical last character refused (atob ignores the spare bits)" },
  { name: "UTF-8 BOM", feature: "payload-bom", code: "malformed",
    why: "a byte-order mark is not JSON (TextDecoder strips it for jose)" },
  { name: "duplicate members", feature: "duplicates", code: "malformed",
    why: "RFC 7515 §4 / RFC 8725 §3.1: duplicates refused at any depth; JSON.parse keeps the last" },
  { name: "lone surrogate", feature: "lone-surrogate", code: "malformed",
    why: "\\ud800 without its pair is not Unicode text; JSON.parse accepts it" },
  { name: "JSON nesting over 128", feature: "depth", code: "malformed",
    why: "serde_json's recursion limit bounds stack use; JSON.parse goes deeper" },
  { name: "key-carrying header (jwk/jku/x5u/x5c)", feature: "key-param", code: "header_not_allowed",
    why: "RFC 8725 §3.10: a token never chooses its key; jose ignores them when given a key set" },
  { name: "crit/b64/zip header", feature: "crit-b64-zip", code: "header_not_allowed",
    why: "no extensions implemented; b64 (RFC 7797) and zip refused even when jose understands them" },
  { name: "NumericDate float or exponent", feature: "numericdate-float", code: "claim_invalid",
    why: "NumericDate must be an integer literal (1.0, 1e9 refused); jose accepts any number" },
  { name: "NumericDate negative", feature: "numericdate-negative", code: "claim_invalid",
    why: "negative (and -0) NumericDates refused; jose accepts them" },
  { name: "NumericDate above 2^53", feature: "numericdate-range", code: "claim_invalid",
    why: "beyond 2^53 integers are not exact in JS; jose accepts (1e400 is Infinity)" },
  { name: "exp-iat lifetime", feature: "lifetime", code: "lifetime_too_long",
    why: "exp - iat ≤ maxTokenLifetime (900 s); jose's maxTokenAge only bounds now - iat" },
  { name: "exp before iat", feature: "exp-before-iat", code: "claim_invalid",
    why: "a token that expires before it was issued is invalid; jose checks each claim alone" },
  { name: "sub/jti/sid not a string", feature: "id-type", code: "claim_invalid",
    why: "registered claims are type-checked when present; jose's requiredClaims checks presence only" },
  { name: "aud array with non-strings", feature: "aud-non-string", code: "claim_invalid",
    why: "aud must be a string or an array of strings; jose only looks for a match" },
];

/** Cases where edgetoken may accept a token jose refuses (none: it never should). */
const LOOSER = [];

function reasonFor(token, ours) {
  const features = analyze(token);
  return REASONS.find((r) => features.has(r.feature) && r.code === ours.code);
}

async function joseVerify(token) {
  try {
    return { ok: true, payload: (await jwtVerify(token, joseKeys, joseOptions)).payload };
  } catch (e) {
    return { ok: false, code: e.code ?? e.name, message: e.message };
  }
}

test(`differential: edgetoken and jose on ${TOTAL.toLocaleString("en")} generated tokens`, async () => {
  const table = WEIGHTS.flatMap(([name, w]) => Array(w).fill(name));
  const perGenerator = {};
  const perReason = {};
  const unexplained = [];
  const looser = [];
  let agree = 0;
  let bothAccept = 0;
  let bothRefuse = 0;
  const started = performance.now();
  for (let i = 0; i < TOTAL; i++) {
    const gen = table[int(table.length)];
    const token = await generators[gen]();
    const ours = verifier.verify(token, NOW);
    const theirs = await joseVerify(token);
    const g = (perGenerator[gen] ??= { tokens: 0, agree: 0, accepted: 0 });
    g.tokens++;
    if (ours.ok === theirs.ok) {
      agree++;
      g.agree++;
      if (ours.ok) {
        bothAccept++;
        g.accepted++;
        assert.deepEqual(ours.claims, theirs.payload, `claims differ for ${gen} token ${token}`);
      } else bothRefuse++;
      continue;
    }
    if (ours.ok) {
      const listed = LOOSER.find((l) => l.matches(token));
      if (listed) perReason[`(looser) ${listed.name}`] = (perReason[`(looser) ${listed.name}`] ?? 0) + 1;
      else looser.push({ gen, token, jose: theirs.code, message: theirs.message });
      continue;
    }
    const reason = reasonFor(token, ours);
    if (reason) perReason[reason.name] = (perReason[reason.name] ?? 0) + 1;
    else unexplained.push({ gen, token: token.slice(0, 400), ours: ours.code, message: ours.message, features: [...analyze(token)] });
  }
  const ms = performance.now() - started;
  const disagreements = TOTAL - agree;
  console.log(`differential: ${TOTAL} tokens in ${(ms / 1000).toFixed(1)} s; agree ${agree} (both accept ${bothAccept}, both refuse ${bothRefuse}); disagree ${disagreements}`);
  console.log("by generator (tokens / agree / accepted by both):");
  for (const [name] of WEIGHTS) {
    const g = perGenerator[name] ?? { tokens: 0, agree: 0, accepted: 0 };
    console.log(`  ${name.padEnd(20)} ${String(g.tokens).padStart(5)} ${String(g.agree).padStart(5)} ${String(g.accepted).padStart(5)}`);
  }
  console.log("disagreements by reason (edgetoken refuses, jose accepts):");
  for (const r of REASONS) console.log(`  ${String(perReason[r.name] ?? 0).padStart(5)}  ${r.name}`);

  assert.ok(TOTAL >= 10_000);
  assert.ok(bothAccept > 1000, `too few valid tokens (${bothAccept}) to be meaningful`);
  assert.deepEqual(looser, [], "edgetoken accepted tokens jose refuses (not listed in LOOSER)");
  assert.deepEqual(unexplained, [], "disagreements without a known reason");
  // Every documented reason is exercised by the generators.
  for (const r of REASONS) assert.ok(perReason[r.name] > 0, `reason never seen: ${r.name}`);
});

test("the reason function needs the matching code, not just the feature", () => {
  const padded = signSegments(b64(JSON.stringify(HEADER)) + "=", b64(payload()));
  assert.equal(reasonFor(padded, { code: "malformed" })?.name, "base64url padding");
  assert.equal(reasonFor(padded, { code: "expired" }), undefined);
  const long = signToken(HEADER, payload({ iat: NOW, exp: NOW + 3600 }));
  assert.equal(reasonFor(long, { code: "lifetime_too_long" })?.name, "exp-iat lifetime");
  assert.equal(reasonFor(long, { code: "bad_signature" }), undefined);
  assert.equal(scanJson('{"a":{"b":1,"b":2}}').dup, true);
  assert.equal(scanJson('{"a":"\\ud800"}').lone, true);
});
