import crypto from 'node:crypto';

/**
 * The benchmark's own mail, generated (no fixtures to ship): a deterministic mix that exercises the paths a real
 * support mailbox does. Per 20 mails: 9 new cases (3 of them with a small PDF attached), 5 follow-ups by tag
 * and In-Reply-To, 3 Spanish quoted replies (Gmail "El … escribió:" and Outlook "De: / Enviado:"), 2 auto-replies
 * about a case (RFC 3834 Auto-Submitted) and 1 new case in HTML only.
 *
 * Case numbers are predicted from the order: the k-th mail that opens a case gets number `base + k`, so follow-ups
 * can carry the right `[Caso #N]` tag even in a database already holding `base` cases.
 */

export interface GeneratedMail {
  raw: Buffer;
  kind: MailKind;
  messageId: string;
}
export type MailKind = 'new' | 'new_attachment' | 'new_html' | 'follow_up' | 'quoted_reply' | 'auto_reply';

const PLAN: MailKind[] = [
  'new',
  'new',
  'new_attachment',
  'follow_up',
  'new',
  'quoted_reply',
  'new_attachment',
  'follow_up',
  'auto_reply',
  'new',
  'new_html',
  'follow_up',
  'quoted_reply',
  'new',
  'new_attachment',
  'follow_up',
  'auto_reply',
  'new',
  'quoted_reply',
  'follow_up',
];

const MODULES = ['BANCOS', 'NÓMINA', 'FACTURACIÓN', 'INVENTARIOS', 'CONTABILIDAD', 'TESORERÍA'];
const PROBLEMS = [
  'Factura mal cargada',
  'No genera el reporte',
  'Error al conciliar',
  'No puedo exportar a Excel',
  'El saldo no cuadra',
  'Se cierra la ventana',
];

interface OpenCase {
  number: number;
  requester: string;
  name: string;
  messageId: string;
  subject: string;
}

export function generateMails(
  count: number,
  opts: { base?: number; seed?: string; attachmentBytes?: number } = {},
): GeneratedMail[] {
  const base = opts.base ?? 0;
  const seed = opts.seed ?? 'bench';
  const pdf = fakePdf(opts.attachmentBytes ?? 8 * 1024);
  const open: OpenCase[] = [];
  const out: GeneratedMail[] = [];
  let opened = 0;
  const date = (i: number) =>
    new Date(Date.UTC(2026, 10, 2, 13, 0, 0) + i * 1000).toUTCString().replace('GMT', '+0000');
  for (let i = 0; i < count; i++) {
    let kind = PLAN[i % PLAN.length];
    if (kind !== 'new' && kind !== 'new_attachment' && kind !== 'new_html' && open.length === 0) kind = 'new';
    const messageId = `${seed}-${i}-${crypto.createHash('sha1').update(`${seed}:${i}`).digest('hex').slice(0, 10)}@cliente${i % 50}.com.co`;
    if (kind === 'new' || kind === 'new_attachment' || kind === 'new_html') {
      const org = `cliente${i % 50}.com.co`;
      const name = `Usuario ${i}`;
      const requester = `usuario${i}@${org}`;
      const subject = `${MODULES[i % MODULES.length]}, ${PROBLEMS[i % PROBLEMS.length]} (${i})`;
      const body = `Buenos días,\n\nAl ingresar al módulo ${MODULES[i % MODULES.length]} aparece un error cuando intento guardar el documento ${1000 + i}.\nAdjunto el detalle. Quedo atento.\n\nGracias,\n${name}\n`;
      opened++;
      open.push({ number: base + opened, requester, name, messageId, subject });
      const head = headers({
        From: `${name} <${requester}>`,
        To: 'Soporte <soporte@mesa.test>',
        Subject: subject,
        Date: date(i),
        'Message-ID': `<${messageId}>`,
      });
      let raw: string;
      if (kind === 'new_attachment') raw = head + multipart(body, pdf, `soporte-${i}.pdf`, i);
      else if (kind === 'new_html')
        raw =
          head +
          'MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n' +
          `<html><body><p>${body.replace(/\n/g, '<br>')}</p></body></html>\r\n`;
      else raw = head + plain(body);
      out.push({ raw: Buffer.from(raw, 'utf8'), kind, messageId });
      continue;
    }
    const c = open[(i * 7919) % open.length];
    if (kind === 'auto_reply') {
      const raw =
        headers({
          From: `${c.name} <${c.requester}>`,
          To: 'soporte@mesa.test',
          Subject: `Respuesta automática: [Caso #${c.number}] ${c.subject}`,
          Date: date(i),
          'Message-ID': `<${messageId}>`,
          'In-Reply-To': `<${c.messageId}>`,
          'Auto-Submitted': 'auto-replied',
        }) + plain('Estoy fuera de la oficina hasta el lunes. Para asuntos urgentes escriba a mesa@cliente.com.co.\n');
      out.push({ raw: Buffer.from(raw, 'utf8'), kind, messageId });
      continue;
    }
    const subject = `RE: [Caso #${c.number}] ${c.subject}`;
    const head = headers({
      From: `${c.name} <${c.requester}>`,
      To: 'soporte@mesa.test',
      Subject: subject,
      Date: date(i),
      'Message-ID': `<${messageId}>`,
      'In-Reply-To': `<${c.messageId}>`,
      References: `<${c.messageId}>`,
    });
    let body: string;
    if (kind === 'follow_up')
      body = `Les comento que el error sigue apareciendo en el documento ${2000 + i}.\n\n${c.name}\n`;
    else if (i % 2 === 0) {
      body = `Ya probé lo que me indicaron y funcionó. Muchas gracias.\n\nEl lun, 2 nov 2026 a las 10:00, Soporte <soporte@mesa.test> escribió:\n> Buenos días, por favor intente de nuevo.\n> \n> Soporte\n`;
    } else {
      body = `Sigue sin funcionar, adjunto pantallazo más tarde.\n\nEnviado desde mi iPhone\n\n________________________________\nDe: Soporte <soporte@mesa.test>\nEnviado: lunes, 2 de noviembre de 2026 10:00\nPara: ${c.name} <${c.requester}>\nAsunto: [Caso #${c.number}] ${c.subject}\n\nBuenos días, por favor intente de nuevo.\n`;
    }
    out.push({ raw: Buffer.from(head + plain(body), 'utf8'), kind, messageId });
  }
  return out;
}

/** One mail with a large attachment (the memory figure): `bytes` of pseudo-random content, base64 encoded. */
export function mailWithAttachment(bytes: number, i = 0): Buffer {
  const content = crypto.randomBytes(bytes);
  const head = headers({
    From: 'Grande <grande@cliente.com.co>',
    To: 'soporte@mesa.test',
    Subject: 'Respaldo de la base de datos',
    Date: new Date().toUTCString(),
    'Message-ID': `<big-${i}-${Date.now()}@cliente.com.co>`,
  });
  return Buffer.concat([
    Buffer.from(head + multipartHead(i) + textPart('Adjunto el respaldo solicitado.\n', i), 'utf8'),
    attachmentPart(content, 'respaldo.zip', 'application/zip', i),
    Buffer.from(`--b${i}--\r\n`),
  ]);
}

function headers(h: Record<string, string>): string {
  return (
    Object.entries(h)
      .map(([k, v]) => `${k}: ${encodeHeader(v)}`)
      .join('\r\n') + '\r\n'
  );
}

/** RFC 2047 encoded-word for non-ASCII header text, as every real client sends it. */
function encodeHeader(v: string): string {
  if (/^[\x20-\x7e]*$/.test(v)) return v;
  const m = /^(.*?)(<[^>]+>)$/.exec(v);
  if (m) return `=?UTF-8?B?${Buffer.from(m[1].trim()).toString('base64')}?= ${m[2]}`;
  return `=?UTF-8?B?${Buffer.from(v).toString('base64')}?=`;
}

function plain(body: string): string {
  return (
    'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n' +
    body.replace(/\n/g, '\r\n')
  );
}

function multipartHead(i: number): string {
  return `MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b${i}"\r\n\r\n`;
}

function textPart(body: string, i: number): string {
  return `--b${i}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${body.replace(/\n/g, '\r\n')}\r\n`;
}

function multipart(body: string, attachment: Buffer, filename: string, i: number): string {
  return (
    multipartHead(i) +
    textPart(body, i) +
    attachmentPart(attachment, filename, 'application/pdf', i).toString('latin1') +
    `--b${i}--\r\n`
  );
}

function attachmentPart(content: Buffer, filename: string, type: string, i: number): Buffer {
  const b64 = content.toString('base64').replace(/.{76}/g, '$&\r\n');
  return Buffer.from(
    `--b${i}\r\nContent-Type: ${type}; name="${filename}"\r\nContent-Disposition: attachment; filename="${filename}"\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64}\r\n`,
    'latin1',
  );
}

function fakePdf(bytes: number): Buffer {
  const head = Buffer.from('%PDF-1.4\n%mesa bench\n');
  return Buffer.concat([
    head,
    crypto.createHash('sha512').update('pdf').digest(),
    Buffer.alloc(Math.max(0, bytes - head.length - 64), 0x20),
  ]);
}
