// Admin UI: sign in, search sessions, revoke one or all of a user's, watch the filter.
import { api, ApiError, fmtTime, setCsrf } from "/api.js";
import { loadFilterStatus } from "/filter.js";

const $ = (id) => document.getElementById(id);

function show(el, text, kind = "") {
  el.textContent = text;
  el.className = `status ${kind}`;
}

function stateOf(s) {
  if (s.revoked_at) return "revoked";
  if (s.expires_at && s.expires_at * 1000 < Date.now()) return "expired";
  return "active";
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text ?? "—";
  if (className) td.className = className;
  return td;
}

// The address as stored (RFC 8265 form), with every character outside printable ASCII also
// shown as its code point: look-alike letters and invisible characters cannot pass as ASCII.
function emailCell(email) {
  const td = cell(email, "email");
  const unusual = [...(email ?? "")].filter((c) => !/^[\x21-\x7e]$/.test(c));
  if (unusual.length > 0) {
    const note = document.createElement("small");
    note.className = "stored-form";
    note.textContent = ` (${unusual.map((c) => `U+${c.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}`).join(" ")})`;
    note.title = "stored form: characters outside ASCII, by code point";
    td.append(note);
  }
  return td;
}

function button(label, kind, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = kind;
  b.textContent = label;
  b.addEventListener("click", onClick);
  return b;
}

async function search() {
  const params = new URLSearchParams({ q: $("q").value, state: $("state").value });
  try {
    const { sessions } = await api("GET", `/api/admin/sessions?${params}`);
    const body = $("sessions").querySelector("tbody");
    body.replaceChildren();
    for (const s of sessions) {
      const tr = document.createElement("tr");
      tr.dataset.sessionId = s.id;
      tr.dataset.email = s.email;
      const state = stateOf(s);
      tr.append(
        emailCell(s.email),
        cell(fmtTime(s.created_at)),
        cell(fmtTime(s.last_seen_at)),
        cell(s.user_agent, "ua"),
        cell(s.ip),
        cell(state + (s.sensitive ? " (sensitive)" : ""), `state-${state}`),
      );
      const actions = document.createElement("td");
      if (state === "active") {
        actions.append(
          button("Revoke", "danger revoke-session", () => revoke(`/api/admin/sessions/${encodeURIComponent(s.id)}/revoke`, `session of ${s.email}`)),
          " ",
          button("Revoke all of user", "secondary revoke-user", () => revoke(`/api/admin/users/${encodeURIComponent(s.user_id)}/revoke`, `all sessions of ${s.email}`)),
        );
      }
      tr.append(actions);
      body.append(tr);
    }
    show($("sessions-status"), `${sessions.length} session(s)`);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      // Our own session ended (revoked here or elsewhere): back to the sign-in form.
      location.reload();
      return;
    }
    show($("sessions-status"), `Search failed: ${e.message}`, "error");
  }
}

async function revoke(path, what) {
  try {
    await api("POST", path, {});
    await search();
    if ($("console").classList.contains("hidden")) return;
    show($("sessions-status"), `Revoked ${what}. Edges refuse its tokens once they load the next filter.`, "ok");
    await refreshFilter();
  } catch (e) {
    show($("sessions-status"), `Revoking ${what} failed: ${e.message}`, "error");
  }
}

async function refreshFilter() {
  try {
    const st = await loadFilterStatus();
    $("filter-sequence").textContent = st.sequence;
    $("filter-age").textContent = `${Math.max(0, Math.round(Date.now() / 1000 - st.builtAt))} s`;
    $("filter-entries").textContent = st.entries;
    $("filter-users").textContent = st.users;
    $("filter-size").textContent = `${st.bytes} bytes`;
    $("filter-not-after").textContent = fmtTime(st.notAfter);
    $("filter-status").className = "status hidden";
  } catch (e) {
    show($("filter-status"), `Filter unavailable: ${e.message}`, "error");
  }
}

function enterConsole(email) {
  $("signin-section").classList.add("hidden");
  $("console").classList.remove("hidden");
  $("whoami").textContent = email ? `Signed in as ${email}` : "";
  search();
  refreshFilter();
  setInterval(refreshFilter, 2000);
}

$("signin").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    const res = await api("POST", "/api/login", { email: $("email").value, password: $("password").value });
    setCsrf(res.csrf_token);
    // Probe the admin role before showing the console.
    await api("GET", "/api/admin/sessions?limit=1");
    enterConsole($("email").value);
  } catch (e) {
    const msg = e instanceof ApiError && e.status === 403 ? "This account is not an administrator." : e.message;
    show($("signin-status"), `Sign-in failed: ${msg}`, "error");
  }
});

$("search").addEventListener("submit", (ev) => {
  ev.preventDefault();
  search();
});

$("signout").addEventListener("click", async () => {
  await api("POST", "/api/logout", {}).catch(() => {});
  location.reload();
});

// Already signed in (cookies)? Go straight to the console.
api("GET", "/api/admin/sessions?limit=1").then(() => enterConsole(""), () => {});
