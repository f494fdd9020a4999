// Compiled by tests/js/types.test.js with tsc, once with strict: true and once with
// strict: false: the public types must narrow (and reject misuse) in both.
import { Verifier, IssuerSync, EdgetokenError, errorCodes, type VerifyResult, type VerifyErrorCode } from "edgetoken";

declare const verifier: Verifier;
declare const r: VerifyResult;

if (r.ok) {
  const sub: string | undefined = r.claims.sub;
  void sub;
} else {
  const code: VerifyErrorCode = r.code;
  const message: string = r.message;
  void code, message;
}
if (!r.ok) {
  switch (r.code) {
    case "expired":
    case "revocations_stale":
    case "keys_unavailable":
      break;
  }
}
if (r.ok === false) {
  const code: VerifyErrorCode = r.code;
  void code;
}

const sync = new IssuerSync(verifier, { discovery: "https://auth.example.com/.well-known/edgetoken.json" });
async function handler(token: string): Promise<number> {
  const result = await sync.verify(token, { waitUntil: (p) => void p });
  return result.ok ? 200 : result.code === "revoked" ? 403 : 401;
}
void handler;

try {
  verifier.setKeys("{}");
} catch (e) {
  if (e instanceof EdgetokenError) {
    const code: string = e.code;
    void code;
  }
}
const verifyCodes: VerifyErrorCode[] = errorCodes("verify");
void verifyCodes;
const noKeys = new Verifier({ issuer: "https://auth.example.com", audience: "app" });
void noKeys;
