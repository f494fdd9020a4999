/** Stable error codes. Switch on these; they are only ever added, never renamed. */
export type ErrorCode =
  | "malformed" | "too_large" | "alg_not_allowed" | "typ_mismatch" | "header_not_allowed"
  | "key_not_found" | "bad_signature" | "claim_missing" | "claim_invalid" | "issuer_mismatch"
  | "audience_mismatch" | "expired" | "not_yet_valid" | "issued_in_future"
  | "lifetime_too_long" | "revoked" | "revocations_stale" | "invalid_key" | "invalid_config";

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
  /** Replaces the trusted keys (rotation). Throws and keeps the old keys if invalid. */
  setKeys(jwks: Jwks | Jwk | string): void;
  /** Releases the wasm memory held by this verifier. */
  free(): void;
}

/** Every error code `verify` can return. */
export function errorCodes(): ErrorCode[];

/**
 * Browser/default entry only: loads the wasm. Await it once before using the API.
 * Node, Next.js middleware and workerd entries need no init.
 */
export default function init(moduleOrPath?: unknown): Promise<unknown>;
export function init(moduleOrPath?: unknown): Promise<unknown>;
