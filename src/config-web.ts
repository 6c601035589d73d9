import { z } from 'zod';
import { positiveInt, trustProxy } from './config-fields.ts';

/**
 * The status page's keys (src/web/): how often a case's people may ask for links, post messages and attach files,
 * whose X-Forwarded-For to believe, and which organizations share their cases. Read from the environment by
 * src/config.ts; every bad value is named by its key.
 */

export const webKeys = {
  /** Status page: fresh-link and lost-link requests per case (or per address) and per client IP, per hour. */
  WEB_LINK_REQUESTS_PER_CASE: positiveInt.default(3),
  WEB_LINK_REQUESTS_PER_IP: positiveInt.default(20),
  /** Status page: messages posted per link and per client IP, files attached per link and per IP, per hour. */
  WEB_POSTS_PER_LINK: positiveInt.default(10),
  WEB_POSTS_PER_IP: positiveInt.default(30),
  WEB_FILES_PER_LINK: positiveInt.default(20),
  WEB_FILES_PER_IP: positiveInt.default(60),
  /** Status page: all the files of one message together, in bytes (each one also within MAX_ATTACHMENT_BYTES). */
  WEB_UPLOAD_MAX_BYTES: positiveInt.default(25 * 1024 * 1024),
  /** Behind a reverse proxy or balancer: whose X-Forwarded-For to believe (src/config-fields.ts). */
  TRUST_PROXY: trustProxy.default(false),
  /** Organizations whose people all see the organization's cases in "Mis casos" (comma list, or *). */
  CASE_LIST_ORGANIZATIONS: z.string().trim().toLowerCase().default(''),
  /** `/metrics` and the detail of `/healthz` from outside the private networks (src/web/monitoring-access.ts). */
  MONITORING_TOKEN: z.string().trim().min(16, 'debe tener al menos 16 caracteres').optional(),
};

export type WebConfig = Readonly<{
  linkRequestsPerCase: number;
  linkRequestsPerIp: number;
  trustProxy: boolean | number | readonly string[];
  /** Messages from the status page, per hour, and the bytes of one message's files (src/web/post-limits.ts). */
  postsPerLink: number;
  postsPerIp: number;
  filesPerLink: number;
  filesPerIp: number;
  uploadMaxBytes: number;
  caseListOrganizations: '*' | readonly string[];
  monitoringToken?: string;
}>;

type WebEnv = z.output<z.ZodObject<typeof webKeys>>;

export function webFrom(e: WebEnv): WebConfig {
  return {
    linkRequestsPerCase: e.WEB_LINK_REQUESTS_PER_CASE,
    linkRequestsPerIp: e.WEB_LINK_REQUESTS_PER_IP,
    trustProxy: e.TRUST_PROXY,
    postsPerLink: e.WEB_POSTS_PER_LINK,
    postsPerIp: e.WEB_POSTS_PER_IP,
    filesPerLink: e.WEB_FILES_PER_LINK,
    filesPerIp: e.WEB_FILES_PER_IP,
    uploadMaxBytes: e.WEB_UPLOAD_MAX_BYTES,
    caseListOrganizations:
      e.CASE_LIST_ORGANIZATIONS === '*'
        ? '*'
        : e.CASE_LIST_ORGANIZATIONS.split(',')
            .map((o) => o.trim())
            .filter(Boolean),
    monitoringToken: e.MONITORING_TOKEN,
  };
}
