/** Codes `verify` returns. Switch on these; codes are only ever added, never renamed. */
export type VerifyErrorCode =
  | "malformed" | "too_large" | "alg_not_allowed" | "typ_mismatch" | "header_not_allowed"
  | "key_not_found" | "bad_signature" | "claim_missing" | "claim_invalid" | "issuer_mismatch"
  | "audience_mismatch" | "expired" | "not_yet_valid" | "issued_in_future"
  | "lifetime_too_long" | "revoked" | "revocations_stale" | "keys_unavailable";

/** Codes of the EdgetokenError the constructor, setters, builder and IssuerSync throw. */
export type ThrownErrorCode =
  | "too_large" | "revocations_stale" | "invalid_key" | "invalid_config" | "invalid_argument"
  | "revocations_invalid" | "revocations_rollback" | "revocations_unknown_key"
  | "revocations_bad_signature" | "revocations_issuer_mismatch" | "revocations_too_long_lived"
  | "revocations_window_too_short" | "discovery_invalid" | "fetch_failed";

/** Every stable error code. */
export type ErrorCode = VerifyErrorCode | ThrownErrorCode;

/** An EC P-256 public JWK. */
export interface Jwk {
  kty: "EC";
  crv: "P-256";
  x: string;
  y: string;
  kid?: string;
  use?: "sig";
  key_ops?: string[];
  alg?: "ES256";
  [other: string]: unknown;
}

/** A JWK Set. */
export interface Jwks {
  keys: Jwk[];
}

export interface VerifierOptions {
  /** Exact `iss` to accept. Required. */
  issuer: string;
  /** `aud` must contain one of these. Required. */
  audience: string | string[];
  /**
   * The trusted keys: a JWK Set (or one JWK), as an object or JSON text. Optional: a
   * verifier fed by IssuerSync starts without keys and answers `keys_unavailable` until
   * the first key set arrives.
   */
  jwks?: Jwks | Jwk | string;
  /** Accepted `typ` (case-insensitive, `application/` optional). Default `"at+jwt"`; `null` disables. */
  typ?: string | string[] | null;
  /** Allowed algorithms. Default and only supported: `["ES256"]`. */
  algorithms?: ["ES256"];
  /** Seconds of clock skew tolerated on exp/nbf/iat (0–300). Default 30. */
  clockTolerance?: number;
  /** Maximum `exp - iat` in seconds. Default 900. */
  maxTokenLifetime?: number;
  /** Claims required besides iss, aud, exp, iat (always required). Default `["sub", "jti"]`. */
  requiredClaims?: string[];
  /** Maximum token length in bytes (64–65536). Default 8192. */
  maxTokenSize?: number;
  /**
   * `"required"`: refuse every token with `revocations_stale` while no fresh filter is
   * loaded (fail closed). Default `"required"` when `revocations` is given or `jwks` is
   * not (a verifier fed by IssuerSync), else `"off"`.
   */
  revocation?: "required" | "off";
  /** An initial signed revocation filter (bytes from the origin's `/revocations`). */
  revocations?: Uint8Array;
  /** Largest filter lifetime (`notAfter - builtAt`) accepted, in seconds. Default 3600. */
  maxRevocationTtl?: number;
  /**
   * The verified-token cache (default on: 1024 entries, 1 MiB). A hit skips decoding and
   * the signature but re-checks that its key is still trusted, iss, aud, time and revocation.
   * `false` turns it off.
   */
  cache?: boolean | { maxEntries?: number; maxBytes?: number };
}

/** The state of a verifier's revocation filter. */
export interface RevocationStatus {
  loaded: boolean;
  required: boolean;
  /** True when no filter is loaded or `now > notAfter`. */
  stale: boolean;
  sequence?: number;
  builtAt?: number;
  notAfter?: number;
  window?: number;
  entries?: number;
  users?: number;
  globalNotBefore?: number | null;
  bytes?: number;
  kid?: string;
}

/**
 * The one error type the package throws (constructor, setKeys, setRevocations, isRevoked,
 * errorCodes, buildRevocationFilter, IssuerSync). Switch on `code`.
 */
export class EdgetokenError extends Error {
  constructor(code: ThrownErrorCode, message: string, options?: { cause?: unknown });
  readonly name: "EdgetokenError";
  readonly code: ThrownErrorCode;
}

/** The JWT claims of a verified token. */
export interface Claims {
  iss: string;
  aud: string | string[];
  exp: number;
  iat: number;
  nbf?: number;
  sub?: string;
  jti?: string;
  sid?: string;
  [claim: string]: unknown;
}

/** A successful verification. */
export interface VerifySuccess {
  ok: true;
  claims: Claims;
  code?: undefined;
  message?: undefined;
}

/** A refused token. */
export interface VerifyFailure {
  ok: false;
  claims?: undefined;
  code: VerifyErrorCode;
  message: string;
}

/**
 * `if (r.ok) … else r.code` narrows with `strict: false` too: without strictNullChecks,
 * TypeScript narrows unions only on discriminants that are literal types in every member,
 * so both members name all four properties.
 */
export type VerifyResult = VerifySuccess | VerifyFailure;

/** The policy numbers IssuerSync checks a discovery document against. */
export interface VerifierPolicy {
  issuer: string;
  clockTolerance: number;
  maxTokenLifetime: number;
  maxRevocationTtl: number;
  revocation: "required" | "off";
}

export class Verifier {
  /** Throws an EdgetokenError (`invalid_config`, `invalid_key`, ...) for bad options or keys. */
  constructor(options: VerifierOptions);
  /**
   * Verifies a compact ES256 JWS access token. Never throws for a bad token; throws an
   * EdgetokenError (`invalid_argument`) for a `now` that is not a number.
   * @param now seconds since the epoch; defaults to the host clock.
   */
  verify(token: string, now?: number): VerifyResult;
  /**
   * Installs a signed revocation filter. Throws an EdgetokenError
   * (`revocations_unknown_key`, `revocations_bad_signature`, `revocations_issuer_mismatch`,
   * `revocations_too_long_lived`, `revocations_window_too_short`, `revocations_stale`,
   * `revocations_rollback`, `revocations_invalid`, `too_large`) and keeps the previous
   * filter on refusal.
   */
  setRevocations(bytes: Uint8Array, now?: number): RevocationStatus;
  /** The filter's status at `now` (default: host clock). */
  revocationStatus(now?: number): RevocationStatus;
  /**
   * Asks the loaded filter about a token's ids without verifying a token: `true`, `false`,
   * or `null` when no filter is loaded (staleness is not considered; verify() handles it).
   */
  isRevoked(ids: { sub?: string; sid?: string; jti?: string; iat: number }): boolean | null;
  /**
   * Replaces the trusted keys (rotation). A loaded filter signed by a key that left the
   * set is dropped with it. Throws an EdgetokenError and keeps the old keys if invalid.
   */
  setKeys(jwks: Jwks | Jwk | string): void;
  /** The kids of the trusted keys (`null` entries for keys without kid); `null` if none loaded. */
  keyIds(): (string | null)[] | null;
  /** The policy numbers (for IssuerSync). */
  readonly policy: VerifierPolicy;
  /** Releases the wasm memory held by this verifier. */
  free(): void;
}

/** The discovery document (`/.well-known/edgetoken.json`), URLs made absolute. */
export interface Discovery {
  issuer: string;
  audience?: string;
  jwks_uri: string;
  revocations_uri: string;
  clock_tolerance: number;
  max_token_lifetime: number;
  revocation_window: number;
  revocation_ttl: number;
  revocation_max_ttl: number;
  sync_interval: number;
  key_prepublication: number;
}

export interface IssuerSyncOptions {
  /** Absolute URL of the issuer's `/.well-known/edgetoken.json`. Required. */
  discovery: string | URL;
  /** Default: globalThis.fetch. */
  fetch?: (url: string, init?: { headers: Record<string, string>; signal?: AbortSignal }) => Promise<Response>;
  /** Clock in seconds (tests). Default: Date.now() / 1000. */
  now?: () => number;
  /** Seconds between syncs. Default: the discovery's sync_interval. */
  interval?: number;
  /** Sync in the foreground when a required filter is this close to notAfter. Default 10. */
  margin?: number;
  /** Minimum seconds between two JWKS fetches caused by an unknown kid. Default 10. */
  keyCooldown?: number;
  /** Re-read the discovery document this often, seconds. Default 60. */
  discoveryInterval?: number;
  minBackoff?: number;
  maxBackoff?: number;
  /** Seconds per request. Default 5. */
  timeout?: number;
  onUpdate?: (event:
    | { kind: "discovery"; discovery: Discovery }
    | { kind: "keys"; kids: (string | null)[] | null }
    | { kind: "revocations"; status: RevocationStatus }) => void;
  onError?: (error: EdgetokenError) => void;
}

export interface IssuerSyncStatus {
  discovery: Discovery | null;
  keys: (string | null)[] | null;
  revocations: RevocationStatus;
  failures: number;
  lastError: { code: ThrownErrorCode; message: string } | null;
  lastSyncAt: number | null;
  nextAttemptAt: number;
}

type WaitUntilContext = { waitUntil?: (p: Promise<unknown>) => void };

/** Keeps a verifier's keys and revocation filter fresh from the issuer's discovery document. */
export class IssuerSync {
  /**
   * Reads the discovery document once and builds a keyless Verifier whose issuer,
   * audience, clockTolerance, maxTokenLifetime and maxRevocationTtl are the issuer's
   * (override any in `verifier`); returns the sync for it (`.verifier`).
   */
  static fromDiscovery(options: IssuerSyncOptions & { verifier?: Partial<VerifierOptions> }): Promise<IssuerSync>;
  /** Throws an EdgetokenError (`invalid_config`) for bad options. */
  constructor(verifier: Verifier, options: IssuerSyncOptions);
  readonly verifier: Verifier;
  /** The last accepted discovery document, or null before the first sync. */
  readonly discovery: Discovery | null;
  /** Waits only when keys or a required filter are missing/stale/near notAfter; never throws. */
  ensureFresh(ctx?: WaitUntilContext): Promise<void>;
  /** ensureFresh, then verify; an unknown kid triggers one rate-limited JWKS fetch. */
  verify(token: string, ctx?: WaitUntilContext): Promise<VerifyResult>;
  /** Syncs now (single flight); rejects with an EdgetokenError. */
  refresh(): Promise<IssuerSyncStatus>;
  /** Fetches the JWKS unless within keyCooldown of the last fetch; resolves to whether keys changed. */
  refreshKeysForUnknownKid(): Promise<boolean>;
  status(): IssuerSyncStatus;
  /** Background timer for long-lived processes. */
  start(): this;
  stop(): void;
}

/** Every error code; `"verify"`: the codes verify returns; `"thrown"`: the codes EdgetokenError carries. */
export function errorCodes(): ErrorCode[];
export function errorCodes(which: "verify"): VerifyErrorCode[];
export function errorCodes(which: "thrown"): ThrownErrorCode[];

/**
 * Browser/default entry only: loads the wasm. Await it once before using the API.
 * Node, Next.js middleware and workerd entries need no init.
 */
export default function init(moduleOrPath?: unknown): Promise<unknown>;
export function init(moduleOrPath?: unknown): Promise<unknown>;
