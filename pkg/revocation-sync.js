// Keeps a Verifier's revocation filter fresh from the origin's /revocations URL.
//
// - conditional GET (If-None-Match / ETag), single flight (one request at a time);
// - request-driven: call `await sync.ensureFresh()` before `verify()` in middleware or a
//   worker: it refreshes in the background once `interval` has passed and only waits when
//   the filter is missing, stale, or within `margin` seconds of its not_after;
// - `start()` adds a timer for long-lived processes (Node); edge runtimes that forbid
//   global timers simply rely on ensureFresh;
// - exponential backoff with jitter on errors; no retries storm the origin;
// - fail closed: this helper never extends a filter's life. Once not_after passes without
//   a successful refresh, a verifier with revocation "required" answers
//   `revocations_stale`, and recovers by itself on the next successful refresh.

const DEFAULTS = {
  interval: 5, // seconds between background refreshes
  margin: 10, // refresh in the foreground when this close to not_after
  minBackoff: 1, // seconds after the first failure
  maxBackoff: 30,
  timeout: 5, // seconds per request
};

export class RevocationSync {
  /**
   * @param {object} verifier a Verifier
   * @param {object} [options] { url, fetch, interval, margin, minBackoff, maxBackoff,
   *   timeout, now, onUpdate, onError }
   */
  constructor(verifier, options = {}) {
    const url = options.url ?? verifier.revocationUrl;
    if (typeof url !== "string" || url === "") {
      throw new TypeError("edgetoken: RevocationSync needs a url (or a Verifier built with revocationUrl)");
    }
    const fetchFn = options.fetch ?? globalThis.fetch;
    if (typeof fetchFn !== "function") throw new TypeError("edgetoken: RevocationSync needs a fetch function");
    this.verifier = verifier;
    this.url = url;
    this.fetch = fetchFn;
    this.options = { ...DEFAULTS, ...options };
    this.now = options.now ?? (() => Date.now() / 1000);
    this.etag = null;
    this.inflight = null;
    this.failures = 0;
    this.nextAttemptAt = 0;
    this.lastError = null;
    this.timer = null;
  }

  /** The verifier's revocation status plus this helper's state. */
  status() {
    return {
      ...this.verifier.revocationStatus(this.now()),
      failures: this.failures,
      lastError: this.lastError ? String(this.lastError.message ?? this.lastError) : null,
      nextAttemptAt: this.nextAttemptAt,
    };
  }

  /**
   * Makes sure a usable filter is loaded: waits for a refresh only when the filter is
   * missing, stale or about to be; otherwise refreshes in the background when due.
   * Never throws: a failed refresh shows up as `revocations_stale` from verify().
   * @param {{ waitUntil?: (p: Promise<unknown>) => void }} [ctx] e.g. a worker's ctx
   */
  async ensureFresh(ctx) {
    const now = this.now();
    const st = this.verifier.revocationStatus(now);
    const urgent = !st.loaded || st.stale || now >= st.notAfter - this.options.margin;
    const due = now >= this.nextAttemptAt;
    if (urgent && (due || this.inflight)) {
      await this.refresh().catch(() => {});
    } else if (due && !this.inflight) {
      const p = this.refresh().catch(() => {});
      ctx?.waitUntil?.(p);
    }
  }

  /** Fetches now (single flight). Resolves to the new status; rejects on failure. */
  refresh() {
    if (!this.inflight) {
      this.inflight = this.#fetchOnce().finally(() => {
        this.inflight = null;
      });
    }
    return this.inflight;
  }

  async #fetchOnce() {
    const started = this.now();
    try {
      const headers = {};
      // Only ask for 304 when we hold what the ETag names.
      if (this.etag && this.verifier.revocationStatus(started).loaded) headers["if-none-match"] = this.etag;
      const controller = typeof AbortController === "function" ? new AbortController() : null;
      const timer = controller ? setTimeout(() => controller.abort(), this.options.timeout * 1000) : null;
      let res;
      try {
        res = await this.fetch(this.url, { headers, signal: controller?.signal });
      } finally {
        if (timer) clearTimeout(timer);
      }
      let status;
      if (res.status === 304) {
        status = this.verifier.revocationStatus(this.now());
      } else if (res.ok) {
        const bytes = new Uint8Array(await res.arrayBuffer());
        status = this.verifier.setRevocations(bytes, this.now());
        this.etag = res.headers.get("etag");
        this.options.onUpdate?.(status);
      } else {
        throw new Error(`edgetoken: GET ${this.url} answered HTTP ${res.status}`);
      }
      this.failures = 0;
      this.lastError = null;
      this.nextAttemptAt = started + this.options.interval;
      return status;
    } catch (error) {
      this.failures += 1;
      this.lastError = error;
      const base = Math.min(this.options.maxBackoff, this.options.minBackoff * 2 ** (this.failures - 1));
      this.nextAttemptAt = this.now() + base * (0.5 + Math.random() / 2);
      this.options.onError?.(error);
      throw error;
    }
  }

  /** Refreshes on a timer (long-lived processes). Returns this. */
  start() {
    if (this.timer) return this;
    const tick = async () => {
      await this.ensureFresh();
      const wait = Math.max(0.05, Math.min(this.options.interval, this.nextAttemptAt - this.now()));
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
