// Must NOT compile (tests/js/types.test.js expects tsc to report these errors).
import { Verifier, type VerifyResult } from "edgetoken";
declare const verifier: Verifier;
declare const r: VerifyResult;
if (r.ok) {
  const code: "expired" = r.code; // a success has no code
  void code;
}
verifier.verify("t", "1800000000"); // now must be a number
new Verifier({ issuer: "i", audience: "a", revocationUrl: "https://x" }); // removed option
