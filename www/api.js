// A small client for the origin's HTTP API (docs/http-api.md): JSON in and out, cookies for
// the session, the CSRF token echoed on state changes, one refresh retry on 401.
let csrf = null;

export function setCsrf(token) {
  csrf = token;
}

function csrfFromCookie() {
  const m = document.cookie.match(/(?:^|;\s*)__Host-csrf=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : null;
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.error ?? "http_error";
  }
}

async function send(method, path, body) {
  const headers = { accept: "application/json" };
  if (method !== "GET") {
    headers["content-type"] = "application/json";
    const token = csrf ?? csrfFromCookie();
    if (token) headers["x-csrf-token"] = token;
  }
  const res = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: method === "GET" ? undefined : JSON.stringify(body ?? {}),
  });
  const data = res.headers.get("content-type")?.includes("json") ? await res.json() : null;
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

export async function api(method, path, body) {
  try {
    return await send(method, path, body);
  } catch (e) {
    // An expired access token: refresh once with the refresh cookie, then retry.
    if (e instanceof ApiError && e.status === 401 && path !== "/api/refresh" && path !== "/api/login") {
      const refreshed = await send("POST", "/api/refresh", {});
      if (refreshed?.csrf_token) csrf = refreshed.csrf_token;
      return send(method, path, body);
    }
    throw e;
  }
}

export const fmtTime = (secs) => (secs ? new Date(secs * 1000).toLocaleString() : "—");
