export default async function Refresh({ searchParams }: { searchParams: Promise<{ next?: string }> }) {
  const { next } = await searchParams;
  return (
    <main>
      <h1>Session needs a refresh</h1>
      <p id="refresh">
        Your access token has expired. Refresh it at the origin (POST /api/refresh), then return
        to <code>{next ?? "/"}</code>.
      </p>
    </main>
  );
}
