import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Counter, Gauge, Registry } from 'prom-client';
import type { App } from '../app.ts';
import { outcomeCounts } from '../db/repos/ledger.ts';
import { listMailboxStates } from '../db/repos/mailbox-state.ts';
import {
  hasOutboxTable,
  heldQuarantineCount,
  openCaseCountsByPriority,
  outboxCountsByState,
} from '../db/repos/monitoring.ts';
import { mailboxStatuses } from '../mailboxes/status.ts';

/**
 * `GET /metrics` in the Prometheus text format (prom-client). Every figure is read from the database when
 * scraped, so it is the same whichever instance answers and survives restarts: mails ingested by outcome (the
 * ingestion ledger), outbox rows by state, consecutive poll errors and last good poll per mailbox, open cases by
 * priority, mail held in quarantine.
 */
export function registerMetrics(server: FastifyInstance, app: App, allowed: (req: FastifyRequest) => boolean): void {
  const { db } = app;
  const registry = new Registry();
  let hasOutbox: boolean | undefined;

  new Counter({
    name: 'mesa_mails_ingested_total',
    help: 'Mails recorded in the ingestion ledger, by outcome.',
    labelNames: ['outcome'],
    registers: [registry],
    async collect() {
      this.reset();
      const counts = await outcomeCounts(db);
      for (const outcome of ['accepted', 'ignored', 'rejected']) this.inc({ outcome }, counts[outcome] ?? 0);
    },
  });
  new Gauge({
    name: 'mesa_outbox_messages',
    help: 'Outgoing mails in the outbox, by state.',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      this.reset();
      hasOutbox ??= await hasOutboxTable(db);
      if (!hasOutbox) return;
      for (const r of await outboxCountsByState(db)) this.set({ state: r.state }, r.n);
    },
  });
  new Gauge({
    name: 'mesa_mailbox_poll_errors',
    help: 'Consecutive failed polls of each mailbox (0 after a good poll).',
    labelNames: ['mailbox'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const s of await listMailboxStates(db)) this.set({ mailbox: s.name }, s.errorCount);
    },
  });
  new Gauge({
    name: 'mesa_mailbox_last_success_timestamp_seconds',
    help: 'When each mailbox was last read without error.',
    labelNames: ['mailbox'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const s of await listMailboxStates(db))
        if (s.lastSuccessAt) this.set({ mailbox: s.name }, Math.floor(s.lastSuccessAt / 1000));
    },
  });
  new Gauge({
    name: 'mesa_mailbox_token_expiry_seconds',
    help: 'Seconds until the OAuth2 access token of each mailbox expires (negative: expired).',
    labelNames: ['mailbox'],
    registers: [registry],
    async collect() {
      this.reset();
      const now = Date.now();
      for (const s of await mailboxStatuses(app))
        if (s.expiresAt) this.set({ mailbox: s.mailbox }, Math.round((Date.parse(s.expiresAt) - now) / 1000));
    },
  });
  new Gauge({
    name: 'mesa_mailbox_client_secret_expiry_days',
    help: 'Days until the configured OAuth2 client secret of each mailbox expires (OAUTH_CLIENT_SECRET_EXPIRES).',
    labelNames: ['mailbox'],
    registers: [registry],
    async collect() {
      this.reset();
      const now = Date.now();
      for (const mb of app.config.mailboxes) {
        const at = mb.credential.kind === 'oauth2' ? mb.credential.clientSecretExpiresAt : undefined;
        if (at) this.set({ mailbox: mb.name }, Math.floor((at - now) / 86_400_000));
      }
    },
  });
  new Gauge({
    name: 'mesa_mailbox_needs_sign_in',
    help: 'OAuth2 mailboxes that wait for `mesa mailbox login` (1) and are not read meanwhile.',
    labelNames: ['mailbox'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const s of await mailboxStatuses(app))
        if (s.kind.startsWith('oauth2'))
          this.set({ mailbox: s.mailbox }, s.state === 'needs_reauth' || s.state === 'needs_login' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'mesa_open_cases',
    help: 'Cases not closed, by priority.',
    labelNames: ['priority'],
    registers: [registry],
    async collect() {
      this.reset();
      const by = await openCaseCountsByPriority(db);
      for (const p of ['alta', 'media', 'baja']) this.set({ priority: p }, by.get(p) ?? 0);
    },
  });
  new Gauge({
    name: 'mesa_quarantine_held',
    help: 'Mails held in quarantine, waiting for a decision.',
    registers: [registry],
    async collect() {
      this.set(await heldQuarantineCount(db));
    },
  });

  server.get('/metrics', async (req, reply) => {
    if (!allowed(req)) return reply.callNotFound();
    const body = await registry.metrics();
    return reply.header('cache-control', 'no-store').type(registry.contentType).send(body);
  });
}
