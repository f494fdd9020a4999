// Keeps a Verifier's whole trust state fresh from the issuer: discovery document, keys
// (JWKS) and revocation filter, in one loop.
//
// - reads `/.well-known/edgetoken.json` (the discovery document) first: the JWKS and
//   filter URLs (relative ones resolve against the discovery URL), the sync interval, and
//   numbers checked against the verifier's policy; a document naming another issuer, or
//   with a member missing or out of range, is refused and the previous one kept;
// - single flight: one sync at a time (discovery → JWKS → filter), each a conditional GET
//   (If-None-Match / ETag, sent only while the verifier holds what the ETag names);
// - request-driven: `await sync.ensureFresh(ctx)` before `verify()` waits only when keys
//   or a required filter are missing, stale or about to be; otherwise it refreshes in the
//   background once the interval has passed (`ctx.waitUntil` keeps a worker alive for it).
//   `start()` adds a timer for long-lived processes; edges need no global timer;
// - a filter or a token naming an unknown `kid` triggers a JWKS fetch first, at most once
//   per `keyCooldown` seconds (so forged tokens cannot make the edge hammer the origin);
// - exponential backoff with jitter on errors;
// - fail closed: nothing here extends a filter's life or trusts a key the JWKS does not
//   list. A verifier with revocation "required" answers `revocations_stale` once the
//   filter passes not_after without a successful refresh, and `keys_unavailable` until the
//   first key set arrives; it recovers by itself on the next successful sync.
import { EdgetokenError } from "./errors.js";
import { Verifier } from "./gen/edgetoken.js";

const DEFAULTS = {
  fetch: undefined, // default: globalThis.fetch
  now: undefined, // default: () => Date.now() / 1000
  interval: undefined, // seconds between syncs; default: the discovery's sync_interval
  margin: 10, // sync in the foreground when the filter is this close to not_after
  keyCooldown: 10, // at least this many seconds between two unknown-kid JWKS fetches
  discoveryInterval: 60, // re-read the discovery document this often (its max-age)
  minBackoff: 1, // seconds after the first failure
  maxBackoff: 30,
  timeout: 5, // seconds per request
  onUpdate: undefined, // (event: { kind: "discovery" | "keys" | "revocations", ... }) => void
  onError: undefined, // (error: EdgetokenError) => void
};

/** Discovery members that must be non-negative integers (seconds). */
const NUMBERS = [
  "clock_tolerance",
  "max_token_lifetime",
  "revocation_window",
  "revocation_ttl",
  "revocation_max_ttl",
  "sync_interval",
  "key_prepublication",
];

const own = (obj, name) => Object.prototype.hasOwnProperty.call(obj, name);
const fail = (code, message, cause) => new EdgetokenError(code, message, cause === undefined ? undefined : { cause });

/** Options as own properties only; unknown names refused (a typo must not go unnoticed). */
function readOptions(options) {
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw fail("invalid_config", "IssuerSync expects an options object { discovery, fetch?, ... }");
  }
  const known = ["discovery", ...Object.keys(DEFAULTS)];
  for (const name of Object.keys(options)) {
    if (!known.includes(name)) {
      throw fail("invalid_config", `IssuerSync: unknown option ${JSON.stringify(name)} (known: ${known.join(", ")})`);
    }
  }
  const out = {};
  for (const name of Object.keys(DEFAULTS)) {
    out[name] = own(options, name) && options[name] !== undefined ? options[name] : DEFAULTS[name];
  }
  const discovery = own(options, "discovery") ? options.discovery : undefined;
  if (!(typeof discovery === "string" || discovery instanceof URL)) {
    throw fail("invalid_config", "IssuerSync: discovery (the URL of /.well-known/edgetoken.json) is required");
  }
  try {
    out.discovery = new URL(String(discovery)).href;
  } catch (cause) {
    throw fail("invalid_config", `IssuerSync: discovery is not an absolute URL: ${discovery}`, cause);
  }
  out.fetch ??= globalThis.fetch;
  if (typeof out.fetch !== "function") throw fail("invalid_config", "IssuerSync: needs a fetch function");
  for (const fn of ["now", "onUpdate", "onError"]) {
    if (out[fn] !== undefined && typeof out[fn] !== "function") throw fail("invalid_config", `IssuerSync: ${fn} must be a function`);
  }
  for (const name of ["margin", "keyCooldown", "discoveryInterval", "minBackoff", "maxBackoff", "timeout"]) {
    if (typeof out[name] !== "number" || !Number.isFinite(out[name]) || out[name] < 0) {
      throw fail("invalid_config", `IssuerSync: ${name} must be a non-negative number of seconds`);
    }
  }
  if (out.interval !== undefined && (typeof out.interval !== "number" || !(out.interval > 0) || !Number.isFinite(out.interval))) {
    throw fail("invalid_config", "IssuerSync: interval must be a positive number of seconds");
  }
  return out;
}

/**
 * Checks a discovery document against the contract and the verifier's policy; returns
 * it with absolute URLs.
 */
export function parseDiscovery(doc, discoveryUrl, policy) {
  const bad = (message) => fail("discovery_invalid", `discovery document ${discoveryUrl}: ${message}`);
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) throw bad("not a JSON object");
  if (doc.issuer !== policy.issuer) {
    throw bad(`issuer ${JSON.stringify(doc.issuer)} is not this verifier's issuer ${JSON.stringify(policy.issuer)}`);
  }
  const out = { issuer: doc.issuer, audience: doc.audience };
  for (const name of ["jwks_uri", "revocations_uri"]) {
    if (typeof doc[name] !== "string" || doc[name] === "") throw bad(`${name} must be a non-empty string`);
    try {
      out[name] = new URL(doc[name], discoveryUrl).href;
    } catch {
      throw bad(`${name} is not a URL`);
    }
  }
  for (const name of NUMBERS) {
    if (!Number.isSafeInteger(doc[name]) || doc[name] < 0) throw bad(`${name} must be a non-negative integer (seconds)`);
    out[name] = doc[name];
  }
  if (out.sync_interval < 1) throw bad("sync_interval must be at least 1 second");
  if (out.revocation_ttl < 1 || out.revocation_ttl > out.revocation_max_ttl) {
    throw bad("revocation_ttl must be between 1 and revocation_max_ttl");
  }
  // Numbers this verifier cannot work with: say so now instead of refusing every token or
  // filter later.
  if (out.max_token_lifetime > policy.maxTokenLifetime) {
    throw bad(`the issuer's tokens live ${out.max_token_lifetime} s; this verifier's maxTokenLifetime is ${policy.maxTokenLifetime}`);
  }
  if (out.revocation_ttl > policy.maxRevocationTtl) {
    throw bad(`the issuer's filters live ${out.revocation_ttl} s; this verifier's maxRevocationTtl is ${policy.maxRevocationTtl}`);
  }
  if (out.revocation_window < policy.maxTokenLifetime + policy.clockTolerance) {
    throw bad(
      `revocation_window ${out.revocation_window} s is shorter than this verifier's maxTokenLifetime + clockTolerance ` +
        `(${policy.maxTokenLifetime + policy.clockTolerance} s): every filter would be refused`,
    );
  }
  return out;
}

/** A conditional GET; resolves to the Response (200 or 304), rejects with fetch_failed. */
async function conditionalGet(options, url, etag) {
  const headers = etag ? { "if-none-match": etag } : {};
  const controller = typeof AbortController === "function" ? new AbortController() : null;
  const timer = controller && typeof setTimeout === "function"
    ? setTimeout(() => controller.abort(), options.timeout * 1000)
    : null;
  let res;
  try {
    // Called unbound: browsers refuse window.fetch with another `this`.
    const fetchFn = options.fetch;
    res = await fetchFn(url, { headers, signal: controller?.signal });
  } catch (cause) {
    throw fail("fetch_failed", `GET ${url} failed: ${cause?.message ?? cause}`, cause);
  } finally {
    if (timer) clearTimeout(timer);
  }
  if (res.status !== 304 && !res.ok) throw fail("fetch_failed", `GET ${url} answered HTTP ${res.status}`);
  return res;
}

export class IssuerSync {
  /**
   * Reads the discovery document once, builds a Verifier whose policy takes the issuer's
   * numbers (issuer, audience, clockTolerance, maxTokenLifetime, maxRevocationTtl; any
   * of them overridable in `verifier`), and returns an IssuerSync for it (`.verifier`).
   * The verifier starts without keys; call `ensureFresh()`/`verify()` (or `refresh()`).
   * @param {object} options IssuerSync's options plus `verifier`: extra Verifier options
   */
  static async fromDiscovery(options) {
    if (options === null || typeof options !== "object") {
      throw fail("invalid_config", "IssuerSync.fromDiscovery expects an options object { discovery, verifier?, ... }");
    }
    const { verifier: extra = {}, ...syncOptions } = Object.fromEntries(Object.entries(options));
    const probe = readOptions(syncOptions);
    const res = await conditionalGet(probe, probe.discovery, null);
    let doc;
    try {
      doc = await res.json();
    } catch (cause) {
      throw fail("discovery_invalid", `discovery document ${probe.discovery} is not JSON`, cause);
    }
    if (doc === null || typeof doc !== "object" || typeof doc.issuer !== "string") {
      throw fail("discovery_invalid", `discovery document ${probe.discovery} has no issuer`);
    }
    const fromDoc = { issuer: doc.issuer, audience: doc.audience };
    for (const [option, member] of [
      ["clockTolerance", "clock_tolerance"],
      ["maxTokenLifetime", "max_token_lifetime"],
      ["maxRevocationTtl", "revocation_max_ttl"],
    ]) {
      if (doc[member] !== undefined) fromDoc[option] = doc[member];
    }
    const verifier = new Verifier({ ...fromDoc, ...extra });
    return new IssuerSync(verifier, syncOptions);
  }

  /**
   * @param {object} verifier a Verifier (it may have been built without jwks)
   * @param {object} options { discovery, fetch?, now?, interval?, margin?, keyCooldown?,
   *   discoveryInterval?, minBackoff?, maxBackoff?, timeout?, onUpdate?, onError? }
   */
  constructor(verifier, options) {
    if (verifier === null || typeof verifier !== "object" || typeof verifier.setKeys !== "function") {
      throw fail("invalid_config", "IssuerSync expects a Verifier as its first argument");
    }
    this.verifier = verifier;
    this.options = readOptions(options);
    this.now = this.options.now ?? (() => Date.now() / 1000);
    this.policy = verifier.policy;
    this.discovery = null;
    this.discoveryCheckedAt = -Infinity;
    this.etags = { discovery: null, jwks: null, revocations: null };
    this.revocationsSequence = null; // the filter the revocations ETag names
    this.keysFetchedAt = -Infinity;
    this.inflight = null;
    this.keysInflight = null;
    this.failures = 0;
    this.nextAttemptAt = 0;
    this.lastError = null;
    this.lastSyncAt = null;
    this.timer = null;
  }

  /** Seconds between syncs: the `interval` option, else the discovery's sync_interval. */
  get interval() {
    return this.options.interval ?? this.discovery?.sync_interval ?? 5;
  }

  /** The verifier's trust state plus this helper's. */
  status() {
    const now = this.now();
    return {
      discovery: this.discovery,
      keys: this.verifier.keyIds(),
      revocations: this.verifier.revocationStatus(now),
      failures: this.failures,
      lastError: this.lastError ? { code: this.lastError.code, message: this.lastError.message } : null,
      lastSyncAt: this.lastSyncAt,
      nextAttemptAt: this.nextAttemptAt,
    };
  }

  /** Whether verification cannot succeed (or is about to fail) without a sync now. */
  #urgent(now) {
    if (this.verifier.keyIds() === null) return true;
    const st = this.verifier.revocationStatus(now);
    if (!st.required) return false;
    return !st.loaded || st.stale || now >= st.notAfter - this.options.margin;
  }

  /**
   * Makes sure keys and (if required) a usable filter are loaded: waits for a sync only
   * when they are missing, stale or about to be; otherwise syncs in the background when
   * due. Never throws: a failed sync shows up in verify()'s codes and in status().
   * @param {{ waitUntil?: (p: Promise<unknown>) => void }} [ctx] e.g. a worker's ctx
   */
  async ensureFresh(ctx) {
    const now = this.now();
    const due = now >= this.nextAttemptAt;
    if (this.#urgent(now) && (due || this.inflight)) {
      await this.refresh().catch(() => {});
    } else if (due && !this.inflight) {
      const p = this.refresh().catch(() => {});
      ctx?.waitUntil?.(p);
    }
  }

  /**
   * ensureFresh(), then verify; a token naming a key the verifier does not hold triggers
   * one JWKS fetch (rate-limited by keyCooldown) and a second verification.
   * @param {string} token
   * @param {{ waitUntil?: (p: Promise<unknown>) => void }} [ctx]
   */
  async verify(token, ctx) {
    await this.ensureFresh(ctx);
    let result = this.verifier.verify(token, this.now());
    if (!result.ok && result.code === "key_not_found" && (await this.refreshKeysForUnknownKid())) {
      result = this.verifier.verify(token, this.now());
    }
    return result;
  }

  /** Syncs now (single flight). Resolves to status(); rejects with an EdgetokenError. */
  refresh() {
    if (!this.inflight) {
      this.inflight = this.#syncOnce().finally(() => {
        this.inflight = null;
      });
    }
    return this.inflight;
  }

  /**
   * Fetches the JWKS for an unknown kid unless one was fetched less than keyCooldown
   * seconds ago. Resolves to whether the key set changed; never throws.
   */
  async refreshKeysForUnknownKid() {
    if (this.keysInflight) return this.keysInflight;
    if (this.now() < this.keysFetchedAt + this.options.keyCooldown) return false;
    this.keysInflight = (async () => {
      try {
        if (!this.discovery) await this.#syncDiscovery();
        return await this.#syncKeys();
      } catch (error) {
        this.#report(error);
        return false;
      } finally {
        this.keysInflight = null;
      }
    })();
    return this.keysInflight;
  }

  async #syncOnce() {
    const started = this.now();
    try {
      if (!this.discovery || started >= this.discoveryCheckedAt + this.options.discoveryInterval) {
        await this.#syncDiscovery();
      }
      await this.#syncKeys();
      await this.#syncRevocations();
      this.failures = 0;
      this.lastError = null;
      this.lastSyncAt = started;
      this.nextAttemptAt = started + this.interval;
      return this.status();
    } catch (error) {
      this.failures += 1;
      const base = Math.min(this.options.maxBackoff, this.options.minBackoff * 2 ** (this.failures - 1));
      this.nextAttemptAt = this.now() + base * (0.5 + Math.random() / 2);
      throw this.#report(error);
    }
  }

  #report(error) {
    const e = error instanceof EdgetokenError ? error : fail("fetch_failed", String(error?.message ?? error), error);
    this.lastError = e;
    this.options.onError?.(e);
    return e;
  }

  #get(url, etag) {
    return conditionalGet(this.options, url, etag);
  }

  async #syncDiscovery() {
    const url = this.options.discovery;
    const res = await this.#get(url, this.discovery ? this.etags.discovery : null);
    this.discoveryCheckedAt = this.now();
    if (res.status === 304) return;
    let doc;
    try {
      doc = await res.json();
    } catch (cause) {
      throw fail("discovery_invalid", `discovery document ${url} is not JSON`, cause);
    }
    const discovery = parseDiscovery(doc, url, this.policy);
    const changed = JSON.stringify(discovery) !== JSON.stringify(this.discovery);
    this.discovery = discovery;
    this.etags.discovery = res.headers.get("etag");
    if (changed) this.options.onUpdate?.({ kind: "discovery", discovery });
  }

  /** Resolves to whether the key set changed. */
  async #syncKeys() {
    const url = this.discovery.jwks_uri;
    const held = this.verifier.keyIds() !== null;
    this.keysFetchedAt = this.now();
    const res = await this.#get(url, held ? this.etags.jwks : null);
    if (res.status === 304) return false;
    const text = await res.text();
    this.verifier.setKeys(text); // throws invalid_key / too_large, keeping the old keys
    this.etags.jwks = res.headers.get("etag");
    this.options.onUpdate?.({ kind: "keys", kids: this.verifier.keyIds() });
    return true;
  }

  async #syncRevocations() {
    const url = this.discovery.revocations_uri;
    const st = this.verifier.revocationStatus(this.now());
    // Only ask for 304 while the verifier holds the filter the ETag names (a key change
    // may have dropped it).
    const held = st.loaded && st.sequence === this.revocationsSequence;
    const res = await this.#get(url, held ? this.etags.revocations : null);
    if (res.status === 304) return;
    const bytes = new Uint8Array(await res.arrayBuffer());
    let status;
    try {
      status = this.verifier.setRevocations(bytes, this.now());
    } catch (error) {
      // Signed by a key we do not hold yet (a rotation we have not seen): fetch the keys
      // first (rate-limited), then try once more.
      if (error?.code !== "revocations_unknown_key" || !(await this.refreshKeysForUnknownKid())) throw error;
      status = this.verifier.setRevocations(bytes, this.now());
    }
    this.etags.revocations = res.headers.get("etag");
    this.revocationsSequence = status.sequence;
    this.options.onUpdate?.({ kind: "revocations", status });
  }

  /** Syncs on a timer (long-lived processes: Node, browsers). Returns this. */
  start() {
    if (this.timer) return this;
    const tick = async () => {
      await this.ensureFresh();
      const wait = Math.max(0.05, Math.min(this.interval, this.nextAttemptAt - this.now()));
      this.timer = setTimeout(tick, wait * 1000);
      this.timer.unref?.();
    };
    this.timer = setTimeout(tick, 0);
    this.timer.unref?.();
    return this;
  }

  /** Stops the timer started by start(). */
  stop() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
