import type { FastifyReply } from 'fastify';
import type { App } from '../app.ts';
import type { Strings } from './i18n.ts';

/**
 * What status-page.ts hands every route of the status page: the app, the locale's strings and the brand, the clock
 * (tests set it), and the two ways a page answers: a page with its headers, or the quiet 404 that names no token.
 */
export interface PageDeps {
  app: App;
  s: Strings;
  brand: string;
  clock?: () => number;
  page: (reply: FastifyReply, code: number, body: string) => FastifyReply;
  notFound: (reply: FastifyReply) => FastifyReply;
}
