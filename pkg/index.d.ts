/** Stable error codes. Switch on these; they are only ever added, never renamed. */
export type ErrorCode =
  | "malformed" | "too_large" | "alg_not_allowed" | "typ_mismatch" | "header_not_allowed"
  | "key_not_found" | "bad_signature" | "claim_missing" | "claim_invalid" | "issuer_mismatch"
  | "audience_mismatch" | "expired" | "not_yet_valid" | "issued_in_future"
  | "lifetime_too_long" | "revoked" | "revocations_stale" | "invalid_key" | "invalid_config"
  | "revocations_invalid" | "revocations_rollback";

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
  /** The trusted keys: a JWK Set (or one JWK), as an object or JSON text. Required. */
  jwks: Jwks | Jwk | string;
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
   * loaded (fail closed). Default `"required"` when `revocations` or `revocationUrl` is
   * given, else `"off"`.
   */
  revocation?: "required" | "off";
  /** An initial signed revocation filter (bytes from the origin's `/revocations`). */
  revocations?: Uint8Array;
  /** Where RevocationSync fetches the filter from by default. */
  revocationUrl?: string;
  /**
   * The verified-token cache (default on: 1024 entries, 1 MiB). A hit skips decoding and
   * the signature but re-checks iss, aud, time and revocation; `setKeys` clears it.
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

/** An Error with a stable code (thrown by setRevocations, and by buildRevocationFilter from "edgetoken/builder"). */
export interface EdgetokenError extends Error {
  code: ErrorCode;
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

export type VerifyResult =
  | { ok: true; claims: Claims }
  | { ok: false; code: ErrorCode; message: string };

export class Verifier {
  /** Throws an Error with a clear message if the options or keys are invalid. */
  constructor(options: VerifierOptions);
  /**
   * Verifies a compact ES256 JWS access token. Never throws for a bad token.
   * @param now seconds since the epoch; defaults to the host clock.
   */
  verify(token: string, now?: number): VerifyResult;
  /**
   * Installs a signed revocation filter. Throws an EdgetokenError (code `bad_signature`,
   * `key_not_found`, `issuer_mismatch`, `revocations_stale`, `revocations_rollback`,
   * `revocations_invalid`, `too_large`) and keeps the previous filter on refusal.
   */
  setRevocations(bytes: Uint8Array, now?: number): RevocationStatus;
  /** The filter's status at `now` (default: host clock). */
  revocationStatus(now?: number): RevocationStatus;
  /**
   * Asks the loaded filter about a token's ids without verifying a token: `true`, `false`,
   * or `null` when no filter is loaded (staleness is not considered; verify() handles it).
   */
  isRevoked(ids: { sub?: string; sid?: string; jti?: string; iat: number }): boolean | null;
  /** The `revocationUrl` option. */
  readonly revocationUrl: string | undefined;
  /** Replaces the trusted keys (rotation). Throws and keeps the old keys if invalid. */
  setKeys(jwks: Jwks | Jwk | string): void;
  /** Releases the wasm memory held by this verifier. */
  free(): void;
}

export interface RevocationSyncOptions {
  /** Default: the verifier's revocationUrl. */
  url?: string;
  /** Default: globalThis.fetch. */
  fetch?: (url: string, init?: RequestInit) => Promise<Response>;
  /** Seconds between background refreshes. Default 5. */
  interval?: number;
  /** Refresh in the foreground when this many seconds from notAfter. Default 10. */
  margin?: number;
  minBackoff?: number;
  maxBackoff?: number;
  /** Seconds per request. Default 5. */
  timeout?: number;
  /** Clock in seconds (tests). */
  now?: () => number;
  onUpdate?: (status: RevocationStatus) => void;
  onError?: (error: unknown) => void;
}

/** Keeps a verifier's revocation filter fresh from a URL. */
export class RevocationSync {
  constructor(verifier: Verifier, options?: RevocationSyncOptions);
  /** Waits only when the filter is missing/stale/near notAfter; never throws. */
  ensureFresh(ctx?: { waitUntil?: (p: Promise<unknown>) => void }): Promise<void>;
  /** Fetches now (single flight); rejects on failure. */
  refresh(): Promise<RevocationStatus>;
  status(): RevocationStatus & { failures: number; lastError: string | null; nextAttemptAt: number };
  /** Background timer for long-lived processes. */
  start(): this;
  stop(): void;
}

/** Every error code `verify` can return. */
export function errorCodes(): ErrorCode[];

/**
 * Browser/default entry only: loads the wasm. Await it once before using the API.
 * Node, Next.js middleware and workerd entries need no init.
 */
export default function init(moduleOrPath?: unknown): Promise<unknown>;
export function init(moduleOrPath?: unknown): Promise<unknown>;
