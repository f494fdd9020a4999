// Types for "edgetoken/builder": the revocation-filter builder origins use.
import type { Jwk } from "./index.js";
export { EdgetokenError } from "./index.js";

export interface BuildRevocationFilterOptions {
  issuer: string;
  /** A private EC P-256 JWK (with `d` and `kid`); the edge needs its public half in its JWKS. */
  key: Jwk & { d: string; kid: string };
  /** Monotonically increasing per issuer; edges refuse a lower one. */
  sequence: number;
  /** Seconds since the epoch; default: now. */
  builtAt?: number;
  /** Seconds the filter stays fresh after builtAt. */
  ttl: number;
  /** The window the entries cover (at least max token lifetime + clock tolerance of the edges). Default 960. */
  window?: number;
  /** Revoked session ids (`sid`) in the window. */
  sids?: string[];
  /** Revoked token ids (`jti`) in the window. */
  jtis?: string[];
  /** Per-user cut-offs: tokens of `sub` with `iat < notBefore` are revoked. */
  users?: Record<string, number>;
  /** Global cut-off: every token with `iat < notBefore` is revoked. */
  notBefore?: number;
  /** Target false-positive rate for sid/jti. Default 2^-16. */
  falsePositiveRate?: number;
}

/** Builds a signed revocation filter (for origins); throws an EdgetokenError (`invalid_config`, `invalid_key`, `too_large`) on bad input. */
export function buildRevocationFilter(options: BuildRevocationFilterOptions): Uint8Array;


/** Outside Node: loads the builder's wasm (from next to this file, or from `input`). */
export default function init(input?: unknown): Promise<unknown>;
export { init };
