import crypto from 'node:crypto';
import net from 'node:net';
import type { FastifyRequest } from 'fastify';

/**
 * Who may read the monitoring detail: `/metrics` (how many mails and cases the desk handles, its outbox, its mailboxes'
 * failures) and the body of `/healthz` (each mailbox, its folder and its last error as the mail server said it). The
 * status page shares the port with the whole internet: a customer or a competitor sees none of that. Allowed are
 * requests from this machine or a private network (a balancer's probe, Prometheus beside Mesa), judged on the client
 * address as TRUST_PROXY makes it, and requests that bring MONITORING_TOKEN as `Authorization: Bearer …`.
 * Everyone else gets `/healthz`'s status code and one word, and `/metrics` does not exist for them.
 */
const INTERNAL = new net.BlockList();
INTERNAL.addSubnet('127.0.0.0', 8, 'ipv4');
INTERNAL.addSubnet('10.0.0.0', 8, 'ipv4');
INTERNAL.addSubnet('172.16.0.0', 12, 'ipv4');
INTERNAL.addSubnet('192.168.0.0', 16, 'ipv4');
INTERNAL.addSubnet('100.64.0.0', 10, 'ipv4'); // carrier-grade NAT, where some container networks live
INTERNAL.addAddress('::1', 'ipv6');
INTERNAL.addSubnet('fc00::', 7, 'ipv6'); // unique local addresses

export function monitoringAccess(token: string | undefined): (req: FastifyRequest) => boolean {
  const expected = token ? digest(token) : undefined;
  return (req) => {
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (expected && bearer && crypto.timingSafeEqual(digest(bearer), expected)) return true;
    return isInternal(req.ip);
  };
}

function isInternal(ip: string): boolean {
  // An IPv4 client on a dual-stack socket is written as ::ffff:a.b.c.d.
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1];
  if (v4 || net.isIPv4(ip)) return INTERNAL.check(v4 ?? ip, 'ipv4');
  return net.isIPv6(ip) && INTERNAL.check(ip, 'ipv6');
}

/** Compared as digests: equal lengths for timingSafeEqual, and no timing on the token's own length. */
function digest(s: string): Buffer {
  return crypto.createHash('sha256').update(s).digest();
}
