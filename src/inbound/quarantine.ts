import type { UnitOfWork } from '../db/unit-of-work.ts';
import { insertQuarantine, updateQuarantineReason } from '../db/repos/quarantine.ts';
import { insertLedger } from '../db/repos/ledger.ts';
import type { ReasonCode } from './filters/types.ts';
import type { InboundWork } from './inbound-work.ts';
import type { IngestContext, IngestResult } from './ingest-types.ts';
import type { MailSource } from './mail.ts';
import { whereFrom } from './source-key.ts';
import { headerBlockEnd } from './header-values.ts';
import { cutText } from '../text-cut.ts';

/** A mail refused (too large, unparseable, a filter's rejection, a bug tripped over it): its raw source (`size`
 * bytes, kept by the batch under `rawSha`) is kept with its reason in the quarantine, and the ledger records it as
 * `rejected`. */
export async function quarantine(
  service: IngestContext,
  uow: UnitOfWork,
  size: number,
  rawSha: string,
  hash: string,
  source: MailSource,
  sourceKey: string,
  reason: ReasonCode,
  detail: string,
  head: { from?: string; subject?: string; messageId?: string },
  now: number,
): Promise<IngestResult> {
  if (source.kind === 'replay') {
    // Still refused: the quarantine row stays held, with the new reason; no second row, no ledger row.
    await updateQuarantineReason(uow, source.quarantineId, reason, detail);
    return { outcome: 'rejected', sourceKey, reason, detail, quarantineId: source.quarantineId };
  }
  const quarantineId = await insertQuarantine(uow, {
    rawSha256: rawSha,
    size,
    sourceKey,
    mailbox: whereFrom(source).mailbox,
    reason,
    detail,
    fromAddress: head.from,
    subject: head.subject,
    messageId: head.messageId,
    createdAt: now,
  });
  await insertLedger(uow, {
    sourceKey,
    ...whereFrom(source),
    messageId: head.messageId,
    contentHash: hash,
    outcome: 'rejected',
    reason,
    quarantineId,
    createdAt: now,
  });
  // The notifiers hear of it inside this transaction (the outbound side answers politely): CaseEvent mail_rejected.
  await service.deps.cases.publish(uow, {
    type: 'mail_rejected',
    reason,
    detail,
    from: head.from,
    subject: head.subject,
    messageId: head.messageId,
    size,
    quarantineId,
    now,
  });
  return { outcome: 'rejected', sourceKey, reason, detail, quarantineId };
}

/** How much of a mail's start headerSummary() reads: a header block longer than this is cut there. */
export const HEADER_SUMMARY_BYTES = 64 * 1024;

/** From, Subject and Message-ID of a mail we will not parse whole (too large, broken): for the quarantine list
 * and the polite reply the outbound side sends later. Reads at most the first HEADER_SUMMARY_BYTES. */
export async function headerSummary(
  raw: Buffer,
  simpleParser: InboundWork['simpleParser'],
): Promise<{ from?: string; subject?: string; messageId?: string }> {
  try {
    const head = raw.subarray(0, Math.min(headerBlockEnd(raw)?.end ?? raw.length, HEADER_SUMMARY_BYTES));
    const parsed = await simpleParser(Buffer.concat([head, Buffer.from('\r\n\r\n')]));
    const from = Array.isArray(parsed.from) ? parsed.from[0] : parsed.from;
    return {
      from: from?.value?.[0]?.address?.toLowerCase(),
      subject: typeof parsed.subject === 'string' ? cutText(parsed.subject, 500) : undefined,
      messageId: parsed.messageId?.replace(/^<|>$/g, ''),
    };
  } catch {
    return {};
  }
}
