import net from 'node:net';

/**
 * Loopback ports for test servers that must know their port before they listen (Dovecot's config file, Mesa's
 * PUBLIC_URL, an SMTP sink that is stopped and started again on the same port).
 *
 * Chosen below Linux's ephemeral range (32768–60999 by default). A port taken with `listen(0)` and released comes
 * from that range, and the kernel may hand it at once to an outgoing connection of a parallel test file (to
 * PostgreSQL, to a Dovecot): the server then fails with EADDRINUSE. Below the range only another listener can take
 * it. Each vitest worker draws from its own slice (VITEST_POOL_ID), so two files running at once never draw the same
 * port, and each port is bound once here to make sure nothing else holds it.
 */
const LOW = 20000;
const HIGH = 32768;
const SLICES = 16;
const handed = new Set<number>();

export async function freePort(): Promise<number> {
  const width = Math.floor((HIGH - LOW) / SLICES);
  const slice = (Number(process.env.VITEST_POOL_ID ?? process.pid) || 0) % SLICES;
  const start = LOW + slice * width;
  for (let tries = 0; tries < 100; tries += 1) {
    const port = start + Math.floor(Math.random() * width);
    if (handed.has(port)) continue;
    if (await canListen(port)) {
      handed.add(port);
      return port;
    }
  }
  throw new Error(`No hay un puerto libre para pruebas entre ${start} y ${start + width - 1}`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}
