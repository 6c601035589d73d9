import path from 'node:path';
import type { Knex } from 'knex';
import type { Config } from '../config.ts';
import { LinkService, linkSettings } from '../links/links.ts';
import type { Logger } from '../logger.ts';
import type { BlobStore } from '../storage/blobs.ts';
import { Dispatcher, type DispatcherOptions } from './dispatcher.ts';
import { LinkMails } from './link-mails.ts';
import type { Suggestions } from './consultant-extras.ts';
import { MailNotifier } from './notifier.ts';
import { Outbox } from './outbox.ts';
import { Refusals } from './refusals.ts';
import { TemplateRenderer } from './templates.ts';
import type { SmtpTokenSource } from './transport.ts';

/** Everything outbound, built once by the composition root. The dispatcher is built but not started. */
export interface Outbound {
  renderer: TemplateRenderer;
  links: LinkService;
  outbox: Outbox;
  notifier: MailNotifier;
  refusals: Refusals;
  dispatcher: Dispatcher;
  /** For the status page (PortalService `mailer`): fresh-link and lost-link mails. */
  linkMailer: LinkMails;
}

export function createOutbound(deps: {
  db: Knex;
  config: Config;
  blobs: BlobStore;
  logger: Logger;
  tokens?: SmtpTokenSource;
  clock?: () => number;
  dispatcher?: Partial<DispatcherOptions>;
  extraConsultants?: (organization: string) => readonly string[];
  suggestions?: Suggestions;
}): Outbound {
  const log = deps.logger.child({ component: 'outbound' });
  const renderer = new TemplateRenderer(undefined, path.join(deps.config.dataDir, 'cache', 'templates'));
  const links = new LinkService(linkSettings(deps.config));
  const outbox = new Outbox({ config: deps.config, renderer, log, clock: deps.dispatcher?.clock ?? deps.clock });
  const refusals = new Refusals({ config: deps.config, outbox });
  const notifier = new MailNotifier({
    config: deps.config,
    outbox,
    links,
    renderer,
    log,
    refusals,
    extraConsultants: deps.extraConsultants,
    suggestions: deps.suggestions,
  });
  const dispatcher = new Dispatcher({
    db: deps.db,
    config: deps.config,
    blobs: deps.blobs,
    logger: deps.logger,
    renderer,
    clock: deps.clock,
    tokens: deps.tokens,
    ...deps.dispatcher,
  });
  // A committed case change wakes the dispatcher instead of waiting for its next poll.
  outbox.onCommitted(() => dispatcher.kick());
  return { renderer, links, outbox, notifier, refusals, dispatcher, linkMailer: new LinkMails({ outbox }) };
}
