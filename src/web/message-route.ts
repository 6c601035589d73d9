import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../app.ts';
import { isMesaError } from '../errors.ts';
import { MAX_TEXT_CHARS, type PortalService } from '../services/portal.ts';
import type { Access } from '../services/portal-types.ts';
import { formatBytes, type Strings } from './i18n.ts';
import { PostLimits } from './post-limits.ts';
import { MAX_FILES_PER_MESSAGE, readMessageForm } from './upload.ts';
import { messagePage } from './views/pages.ts';

/**
 * The case page's writes that come with files or that record a read: POST …/mensaje and POST …/leido.
 *
 * The message form is multipart/form-data and may carry up to WEB_UPLOAD_MAX_BYTES of files, so nothing of its body
 * is read before the request has earned it. In onRequest, before a byte of the body: the per-client limit, the
 * link (404 for anything but a valid one), the per-link limit, the declared length, and the CSRF token, which for
 * this form travels in the form's action URL (`…/mensaje?_csrf=…`; a no-JavaScript browser posts to that URL as it
 * is), not in the body. Only then are the parts read, the files streamed to disk (upload.ts). Any refusal is
 * answered at once and the connection closed after it (linger.ts): the rest of the body is not read.
 */
type OkAccess = Extract<Access, { kind: 'ok' }>;
interface TokenParams {
  token: string;
}

export interface CaseRouteKit {
  app: App;
  portal: PortalService;
  s: Strings;
  brand: string;
  /** "/caso" */
  base: string;
  clock?: () => number;
  page(reply: FastifyReply, code: number, body: string): FastifyReply;
  notFound(reply: FastifyReply): FastifyReply;
  renderCase(
    reply: FastifyReply,
    token: string,
    a: OkAccess,
    extra: { code?: number; notice?: string; error?: { form: 'message' | 'rating'; text: string }; draft?: string },
  ): Promise<FastifyReply>;
  csrfProtection: FastifyInstance['csrfProtection'];
  /** A text field of a urlencoded body. */
  field(body: unknown, name: string): string;
}

const NONCE = /^[A-Za-z0-9_-]{16,64}$/;
/** The text fields and multipart framing around the files: what a Content-Length may exceed the files' limit by. */
const FORM_ALLOWANCE = 512 * 1024;

/** `visto`/`hasta`: the id of the newest answer the page showed. */
export function seenId(v: string | undefined): number | undefined {
  return v && /^\d{1,12}$/.test(v) ? Number(v) : undefined;
}

/** The page's answer when the portal refused a form's text: empty (`empty` says what was missing) or too long. */
export function refusedText(err: unknown, s: Strings, empty: string): { code: number; text: string } | undefined {
  if (isMesaError(err, 'MAIL_EMPTY')) return { code: 400, text: empty };
  if (isMesaError(err, 'TEXT_TOO_LONG')) return { code: 413, text: s.textTooLong(MAX_TEXT_CHARS, Number(err.detail)) };
  return undefined;
}

export function registerMessageRoutes(caseScope: FastifyInstance, kit: CaseRouteKit): void {
  const { app, portal, s, brand, base } = kit;
  const { config } = app;
  const limits = new PostLimits({ db: app.db, config, clock: kit.clock });
  const accessOf = new WeakMap<FastifyRequest, OkAccess>();
  const bytes = (n: number) => formatBytes(n, config.locale);
  const tooMany = (reply: FastifyReply) =>
    kit.page(reply, 429, messagePage({ s, brand, title: s.tooMany, text: s.tooManyPosts }));
  const tooLargeText = (reason: string) =>
    reason === 'text-too-long'
      ? s.textTooLong(MAX_TEXT_CHARS)
      : reason === 'file-too-large'
        ? s.tooLarge(bytes(config.limits.maxAttachmentBytes))
        : reason === 'too-many-files'
          ? s.tooManyFiles(MAX_FILES_PER_MESSAGE)
          : s.tooLargeTotal(bytes(config.web.uploadMaxBytes));

  const gate = async (req: FastifyRequest<{ Params: TokenParams }>, reply: FastifyReply) => {
    if (!(await limits.post({ kind: 'ip', ip: req.ip }))) return tooMany(reply);
    const a = await portal.access(req.params.token);
    if (a.kind !== 'ok') return kit.notFound(reply);
    if (!(await limits.post({ kind: 'link', linkId: a.linkId }))) return tooMany(reply);
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > config.web.uploadMaxBytes + FORM_ALLOWANCE) {
      return kit.page(
        reply,
        413,
        messagePage({
          s,
          brand,
          title: s.tooLargeTotal(bytes(config.web.uploadMaxBytes)),
          text: s.tooLargeTotal(bytes(config.web.uploadMaxBytes)),
          back: `${base}/${req.params.token}`,
        }),
      );
    }
    accessOf.set(req, a);
    return undefined;
  };

  caseScope.post<{ Params: TokenParams }>(
    '/:token/mensaje',
    {
      // A body of another type would be parsed before the handler (which refuses it): keep that one small.
      bodyLimit: 64 * 1024,
      onRequest: [gate, kit.csrfProtection],
    },
    async (req, reply) => {
      const a = accessOf.get(req)!;
      if (!req.isMultipart()) return kit.page(reply, 400, messagePage({ s, brand, title: s.error, text: s.staleForm }));
      const form = await readMessageForm(req, app.blobs, {
        maxFileBytes: config.limits.maxAttachmentBytes,
        maxTotalBytes: config.web.uploadMaxBytes,
        allowFile: () => limits.file(req.ip, a.linkId),
      });
      if (!form.ok) {
        req.log.info(
          { ticket: a.ticket.number, status: form.status, reason: form.reason },
          'mensaje rechazado en la página del caso',
        );
        if (form.status === 429) return tooMany(reply);
        if (form.status === 413)
          return kit.renderCase(reply, req.params.token, a, {
            code: 413,
            error: { form: 'message', text: tooLargeText(form.reason) },
            draft: form.fields.get('mensaje'),
          });
        return kit.page(reply, 400, messagePage({ s, brand, title: s.error, text: s.staleForm }));
      }
      try {
        const nonce = form.fields.get('nonce') ?? '';
        if (!NONCE.test(nonce))
          return kit.page(reply, 400, messagePage({ s, brand, title: s.error, text: s.staleForm }));
        const text = form.fields.get('mensaje') ?? '';
        try {
          const r = await portal.postMessage(a, {
            nonce,
            text,
            files: form.files,
            seen: seenId(form.fields.get('visto')),
          });
          return reply.redirect(
            `${base}/${req.params.token}?aviso=mensaje${r.messageRowId ? `#m${r.messageRowId}` : ''}`,
            303,
          );
        } catch (err) {
          const refused = refusedText(err, s, s.empty);
          if (refused)
            return kit.renderCase(reply, req.params.token, a, {
              code: refused.code,
              error: { form: 'message', text: refused.text },
              draft: text,
            });
          if (isMesaError(err, 'ATTACHMENT_TOO_LARGE'))
            return kit.renderCase(reply, req.params.token, a, {
              code: 413,
              error: { form: 'message', text: tooLargeText('file-too-large') },
              draft: text,
            });
          if (isMesaError(err, 'TRANSITION_REFUSED')) return reply.redirect(`${base}/${req.params.token}`, 303);
          throw err;
        }
      } finally {
        // What the message kept was moved into the blob store; anything still staged goes.
        await app.blobs.discard(form.files.map((f) => f.staged));
      }
    },
  );

  // The read receipt (src/services/portal.ts): the page's script posts here on a person's first input, a browser
  // without script through the "Ya leí las respuestas" button. Never on a GET.
  caseScope.post<{ Params: TokenParams }>('/:token/leido', { preHandler: kit.csrfProtection }, async (req, reply) => {
    const a = await portal.access(req.params.token);
    if (a.kind !== 'ok') return kit.notFound(reply);
    await portal.markRead(a, seenId(kit.field(req.body, 'hasta')));
    if (req.headers['x-mesa-lectura']) return reply.code(204).send();
    return reply.redirect(`${base}/${req.params.token}?aviso=leido`, 303);
  });
}
