/**
 * Mesa's import rules, checked by `npm run depcheck` (dependency-cruiser), which `npm test` runs first.
 *
 * The mail flows one way: src/inbound (IMAP → cases) and src/outbound (case events → outbox → SMTP) never import
 * each other. What both speak — signed Message-IDs, the loop token, reading a bounce — lives in src/mail, below
 * both. Case changes go from inbound to outbound only as case events (src/services/cases.ts), including a refused
 * mail (`mail_rejected`). SQL lives under src/db. The composition root (src/app.ts) is the one file that wires
 * both sides from their own files; the adapters (src/cli, src/web) reach the inbound side only through
 * src/inbound/index.ts.
 */
const fs = require('node:fs');
const path = require('node:path');

/** Escapes a file path for a rule's regular expression. */
const literal = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The files a package declares as its entry points — `main`, `module`, `types`/`typings` and every target of its
 * `exports` map (subpath patterns included) — as regular expressions over node_modules paths. Importing anything
 * else of a package is a deep import into its private files.
 */
function entryPoints(name) {
  const dir = path.join('node_modules', name);
  let pkg;
  try {
    pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  } catch {
    return [];
  }
  const targets = new Set();
  const add = (target) => {
    if (typeof target !== 'string' || !target) return;
    const file = literal(path.posix.join(dir, target)).replace(/\\\*/g, '.+');
    targets.add(`^${file}$`);
    // `main` may omit the extension or name a folder, as Node allows.
    if (!/\.[cm]?[jt]s$|\.json$/.test(target))
      for (const end of ['.js', '.d.ts', '/index.js', '/index.d.ts']) targets.add(`^${file}${literal(end)}$`);
  };
  const walk = (node) => {
    if (typeof node === 'string') add(node);
    else if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') Object.values(node).forEach(walk);
  };
  for (const field of ['main', 'module', 'types', 'typings']) add(pkg[field]);
  walk(pkg.exports);
  if (!pkg.main && !pkg.exports) add('index.js');
  add('index.d.ts');
  return [...targets];
}

const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, 'package.json'), 'utf8'));
const declared = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies });
const PUBLIC_ENTRY_POINTS = [
  ...new Set(
    declared.flatMap((name) => [
      ...entryPoints(name),
      // A package's types may come from DefinitelyTyped (@types/luxon for luxon, @types/scope__name for @scope/name).
      ...entryPoints(`@types/${name.startsWith('@') ? name.slice(1).replace('/', '__') : name}`),
    ]),
  ),
];

module.exports = {
  forbidden: [
    {
      name: 'inbound-not-to-outbound',
      comment: 'The inbound side reaches outbound only through case events; shared mail vocabulary is in src/mail.',
      severity: 'error',
      from: { path: '^src/inbound/' },
      to: { path: '^src/outbound/' },
    },
    {
      name: 'outbound-not-to-inbound',
      comment: 'Outbound reacts to case events (src/services/cases.ts); shared mail vocabulary is in src/mail.',
      severity: 'error',
      from: { path: '^src/outbound/' },
      to: { path: '^src/inbound/' },
    },
    {
      name: 'mail-below-both',
      comment: 'src/mail is shared mail vocabulary under both directions: it imports neither, nor anything with state.',
      severity: 'error',
      from: { path: '^src/mail/' },
      to: { path: '^src/', pathNot: '^src/(mail/|config\\.ts$|memo\\.ts$)' },
    },
    {
      name: 'inbound-through-its-entry',
      comment:
        'Only the inbound side itself and the composition root (src/app.ts) import its files; everyone else ' +
        '(src/cli, src/web…) uses its public entry, src/inbound/index.ts.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(inbound/|app\\.ts$)' },
      to: { path: '^src/inbound/', pathNot: '^src/inbound/index\\.ts$' },
    },
    {
      name: 'database-drivers-only-in-db',
      comment:
        'SQL lives under src/db: nothing else imports knex, pg or better-sqlite3 at run time. Type-only imports ' +
        '(the Knex / Knex.Transaction type of the unit of work passed through the signatures) are allowed.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/db/' },
      to: {
        path: '^node_modules/(@types/)?(knex|pg|pg-[^/]+|better-sqlite3)/',
        dependencyTypesNot: ['pre-compilation-only'],
      },
    },
    {
      name: 'no-circular',
      comment: 'No import cycles in src, type-only imports included.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-deep-package-imports',
      comment:
        'A package is used through the entry points its package.json declares (main, module, types, exports), ' +
        'never through its private files (e.g. email-reply-parser/dist/regex.js, mailauth/lib/…).',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^node_modules/', pathNot: PUBLIC_ENTRY_POINTS },
    },
    {
      name: 'not-to-unresolvable',
      comment: "An import that does not resolve, e.g. a subpath a package's exports map does not offer.",
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
    {
      name: 'only-declared-packages',
      comment: 'src imports only packages package.json declares (not ones that happen to be installed).',
      severity: 'error',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
  ],
  options: {
    doNotFollow: { path: '^node_modules/' },
    // TypeScript's own parser, and each import marked when it disappears on compilation (type-only): cycles count
    // type-only imports, the database-driver rule does not.
    tsPreCompilationDeps: 'specify',
    tsConfig: { fileName: 'tsconfig.json' },
    // Packages' exports maps are honoured, so a subpath a package does not export does not resolve.
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
