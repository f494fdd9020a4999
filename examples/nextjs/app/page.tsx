export default function Home() {
  return (
    <main>
      <h1>edgetoken Next.js example</h1>
      <p>
        <a href="/protected">/protected</a> is guarded by edge middleware that verifies the{" "}
        <code>__Host-access</code> cookie issued by the edgetoken origin.
      </p>
    </main>
  );
}
