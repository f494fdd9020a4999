import { headers } from "next/headers";

export const dynamic = "force-dynamic";

export default async function Protected() {
  const raw = (await headers()).get("x-edgetoken-claims");
  const claims = raw ? JSON.parse(raw) : null;
  return (
    <main>
      <h1>Protected</h1>
      <p id="who">Signed in as {claims?.sub ?? "nobody"}</p>
      <pre id="claims">{JSON.stringify(claims, null, 2)}</pre>
    </main>
  );
}
