// ESLint (flat config): `npm run lint`. The recommended JavaScript and typescript-eslint rules, with the exceptions
// this code base has reasons for; formatting is prettier's (`npm run format`), not the linter's.
import js from '@eslint/js';
import regexp from 'eslint-plugin-regexp';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // reply-parser-patterns.ts is email-reply-parser's pattern list copied verbatim (its licence says so): kept as the
  // library wrote it, escapes included, so that it can be compared with the source line by line.
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'tests/.artifacts/', 'src/inbound/reply-parser-patterns.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: { ...globals.node } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // A leading underscore marks what is left out on purpose (`const { raw: _raw, ...rest } = mail`).
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      // Types only where they are types: `import type` keeps type-only imports out of the runtime graph.
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false },
      ],
      // Untyped data from outside (parsed mail headers, JSON) is sometimes `any` at the edge; say so, do not forbid.
      '@typescript-eslint/no-explicit-any': 'warn',
      // An empty catch that says why (a comment) is a decision; an empty one without is not.
      'no-empty': ['error', { allowEmptyCatch: false }],
      // Mail and file names are cleaned of control characters on purpose: regular expressions name them.
      'no-control-regex': 'off',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'prefer-const': 'error',
      'no-var': 'error',
      'object-shorthand': ['error', 'properties'],
    },
  },
  // The house width, 120, also where prettier cannot break a line: strings, template literals, regular expressions
  // and comments in src. A long text is split into pieces or built from a list, not left to run on. A line that
  // holds a URL may run on, since a URL is not split; reply-parser-patterns.ts, ignored above, keeps the library's.
  {
    files: ['src/**/*.ts'],
    rules: { 'max-len': ['error', { code: 120, ignoreUrls: true }] },
  },
  // Regular expressions that can backtrack or rescan super-linearly (eslint-plugin-regexp), where mail, forged or not,
  // is read: inbound (the filter chain judges every mail on the thread that serves everything), the mail vocabulary,
  // outbound (notices carry the customer's words), the subject, the product guess (a subject, a /producto line) and
  // what /publicar takes out of a case. One such pattern over a forged bounce's X-Failed-Recipients held that thread
  // for minutes (docs/performance.md, «Expresiones regulares sobre correo hostil»). Not yet here: quote-start.ts and
  // the header scans of context.ts, charset.ts and tnef.ts (one line or one property each), and the rest of src
  // (configuration, constants, an excerpt of 240 characters).
  {
    files: [
      'src/mail/**/*.ts',
      'src/inbound/**/*.ts',
      'src/outbound/**/*.ts',
      'src/tickets/subject.ts',
      'src/tickets/personal-data.ts',
      'src/tickets/products.ts',
    ],
    ignores: ['src/inbound/quote-start.ts', 'src/inbound/context.ts', 'src/inbound/charset.ts', 'src/inbound/tnef.ts'],
    plugins: { regexp },
    rules: { 'regexp/no-super-linear-backtracking': 'error', 'regexp/no-super-linear-move': 'error' },
  },
  // CommonJS config files (dependency-cruiser's) load with require().
  {
    files: ['**/*.cjs', '.dependency-cruiser.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
