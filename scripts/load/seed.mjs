// Logs in N sessions (token mode) for the load run: node seed.mjs URL USERS_FILE N OUT_FILE
// Writes "sid:device_secret refresh_token access_token" lines (the client keeps its device
// secret with the session id and presents it on refresh, so its retries get the grace).
import { readFileSync, writeFileSync } from "node:fs";

const [url, usersFile, n, out] = process.argv.slice(2);
const users = readFileSync(usersFile, "utf8").trim().split("\n").map((l) => l.split(" "));
const lines = [];
let next = 0;
async function worker() {
  while (next < Number(n)) {
    const [email, password] = users[next++ % users.length];
    const res = await fetch(`${url}/api/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password, mode: "token" }),
    });
    const b = await res.json();
    if (res.status !== 200) throw new Error(`seed login: ${res.status} ${JSON.stringify(b)}`);
    lines.push(`${b.session_id}:${b.device_secret} ${b.refresh_token} ${b.access_token}`);
  }
}
await Promise.all(Array.from({ length: 4 }, worker));
writeFileSync(out, lines.join("\n") + "\n");
console.log(`seeded ${lines.length} sessions`);
