// Demo: get a token from the origin (or paste one) and verify it with pkg in the browser.
import { originVerifier, loadFilterStatus } from "/filter.js";

const $ = (id) => document.getElementById(id);

$("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const res = await fetch("/api/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: $("email").value, password: $("password").value, mode: "token" }),
  });
  const body = await res.json();
  const status = $("login-status");
  status.classList.remove("hidden");
  if (res.ok) {
    $("token").value = body.access_token;
    status.textContent = `Signed in; session ${body.session_id}. The token is below.`;
    status.className = "status ok";
  } else {
    status.textContent = `Sign-in failed: ${body.message ?? res.status}`;
    status.className = "status error";
  }
});

// A token can also arrive in the fragment: /demo.html#token=...
const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
if (fromHash) $("token").value = fromHash;

$("verify").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const verdict = $("verdict");
  try {
    const { verifier } = await originVerifier();
    await loadFilterStatus();
    const r = verifier.verify($("token").value.trim());
    verdict.textContent = r.ok ? "Valid" : `Rejected: ${r.code}`;
    verdict.className = `verdict ${r.ok ? "ok" : "bad"}`;
    verdict.dataset.code = r.ok ? "ok" : r.code;
    $("message").textContent = r.ok ? `Token of ${r.claims.sub}, session ${r.claims.sid}` : r.message;
    $("claims").textContent = r.ok ? JSON.stringify(r.claims, null, 2) : "";
    $("claims").classList.toggle("hidden", !r.ok);
  } catch (e) {
    verdict.textContent = "Could not verify";
    verdict.className = "verdict bad";
    verdict.dataset.code = "error";
    $("message").textContent = e.message;
  }
});
