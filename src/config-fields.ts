import { isIP } from 'node:net';
import { z } from 'zod';

/** Field validators shared by the environment (src/config.ts) and the optional config file (src/policy/settings.ts). */
export const timezone = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'zona horaria IANA desconocida (p. ej. America/Bogota)');

/**
 * TRUST_PROXY: which proxies to believe about the client's address (their X-Forwarded-For), as fastify's
 * `trustProxy`: `false` (the default: the address of the connection), `true` (every hop: only when nothing can reach
 * Mesa except through the proxy), a number of hops, or a comma-separated list of addresses and CIDR ranges (also
 * `loopback`, `linklocal`, `uniquelocal`). Behind a balancer without it, every client has the balancer's address,
 * so the per-IP limits of the status page would count everyone together.
 */
export const trustProxy = z.string().trim().transform((v, ctx): boolean | number | string[] => {
  const lower = v.toLowerCase();
  if (lower === '' || lower === 'false' || lower === 'no') return false;
  if (lower === 'true' || lower === 'si' || lower === 'sí' || lower === 'yes') return true;
  if (/^\d+$/.test(lower)) return Number(lower);
  const entries = lower.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = entries.filter((e) => !isProxyEntry(e));
  if (bad.length) {
    ctx.addIssue({ code: 'custom', message: `no es una dirección, un rango CIDR ni loopback/linklocal/uniquelocal: ${bad.join(', ')}` });
    return z.NEVER;
  }
  return entries;
});

function isProxyEntry(entry: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true;
  const [ip, bits, extra] = entry.split('/');
  const family = isIP(ip);
  if (!family || extra !== undefined) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}
