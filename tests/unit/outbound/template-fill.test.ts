import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mustache from 'mustache';
import { describe, expect, it } from 'vitest';
import {
  TEMPLATE_DIR,
  TEMPLATE_NAMES,
  TemplateRenderer,
  linesOf,
  type Locale,
  type Rendered,
  type TemplateName,
} from '../../../src/outbound/templates.ts';
import { fill, parsed, referencedStrings } from '../../../src/outbound/mustache-tokens.ts';

/**
 * render() fills only the strings a layout uses (sqlprof: it filled every string of the table twice per mail).
 * The mail must not change by a byte: every template, in both locales and with every variant the code picks, is
 * compared with the full-table fill it replaced, kept here as the reference.
 */
const plain = { escape: (v: unknown) => String(v) };

/** The render() of before: every string of the table, through Mustache, for HTML and for text. */
function fullTableRender(
  r: TemplateRenderer,
  dir: string,
  name: TemplateName,
  locale: Locale,
  data: Record<string, unknown>,
  pick: Record<string, string> = {},
): Rendered {
  const table = r.table(name, locale);
  for (const [slot, key] of Object.entries(pick)) table[slot] = key.split('.').reduce((o: any, k) => o?.[k], table);
  const sHtml: Record<string, string> = {};
  const sText: Record<string, string> = {};
  for (const [k, v] of Object.entries(table)) {
    if (typeof v !== 'string') continue;
    sHtml[k] = mustache.render(v, data);
    sText[k] = mustache.render(v.replace(/<[^>]+>/g, ''), data, {}, plain);
  }
  return {
    subject: sText.title.replace(/\s+/g, ' ').trim(),
    html: mustache.render(r.compiled(name), { ...data, s: sHtml }),
    text: mustache
      .render(fs.readFileSync(path.join(dir, `${name}.txt`), 'utf8'), { ...data, s: sText }, {}, plain)
      .replace(/\n{3,}/g, '\n\n'),
  };
}

// Mail text as customers write it: markup, Mustache-looking braces, quotes, ampersands, accents.
const HOSTILE = 'Factura <script>alert("x")</script> {{brand}} {{{s.footer}}} & "comillas" ñandú <strong>x</strong>';
const common = {
  brand: 'Soporte <Mesa> & Cía',
  hours: 'lunes a viernes, 8:00–17:00',
  name: 'Carla Ríos',
  number: 42,
  subject: HOSTILE,
};
const files = {
  hasAttachments: true,
  attachments: [
    { filename: 'captura <1>.png', size: '120 KB' },
    { filename: 'log {{x}}.txt', size: '2 KB' },
  ],
};
const commands = [
  { usage: '/cerrar (/close)', help: 'cierra el caso' },
  { usage: '/nota (/note)', help: 'nota <interna>' },
];
const caseData = {
  from: 'carla@empresa.com',
  fromName: 'Carla "C" Ríos',
  organization: 'empresa.com',
  priority: 'alta',
  stage: 'abierto',
  assignee: 'sin asignar',
  lines: linesOf(`No puedo entrar.\n\n\n${HOSTILE}`),
  ...files,
  caseUrl: 'https://mesa.example/caso/1.1.abc.def',
  commands,
};

/** Each template with the data its sender gives it, and every `pick` variant the code uses. */
const cases: Array<{
  name: TemplateName;
  data: Record<string, unknown>;
  picks: Array<Record<string, string> | undefined>;
}> = [
  {
    name: 'confirmation',
    data: {
      summary: linesOf(`Hola,\nal facturar sale el error E-42.\n${HOSTILE}`),
      caseUrl: 'https://mesa.example/caso/1.1.abc.def',
      askDetail: true,
      subjectExample: 'Facturación: error <E-42>',
      ...files,
    },
    picks: [undefined],
  },
  {
    name: 'confirmation',
    data: {
      summary: [],
      caseUrl: 'https://mesa.example/caso/1',
      askDetail: false,
      hasAttachments: false,
      attachments: [],
    },
    picks: [undefined, {}],
  },
  {
    name: 'consultant-case',
    data: caseData,
    picks: [
      { heading: 'headingNew' },
      { heading: 'headingFollowUp' },
      { heading: 'headingReopened' },
      { heading: 'headingAssigned' },
    ],
  },
  {
    name: 'answer',
    data: {
      consultantName: 'Ana <Pérez>',
      lines: linesOf('Hola Carla,\nya quedó corregido.\nSaludos'),
      ...files,
      caseUrl: 'https://mesa.example/caso/1',
    },
    picks: [undefined],
  },
  {
    name: 'closed',
    data: {
      caseUrl: 'https://mesa.example/caso/1',
      rateUrl: 'https://mesa.example/caso/1#calificar',
      actor: 'sistema',
      autoCloseDays: 2,
    },
    picks: [undefined, { intro: 'introAuto' }],
  },
  {
    name: 'reopened',
    data: { caseUrl: 'https://mesa.example/caso/1', hasReason: true, lines: ['carla@empresa.com: sigue <fallando>'] },
    picks: [undefined],
  },
  {
    name: 'reopened',
    data: { caseUrl: 'https://mesa.example/caso/1', hasReason: false, lines: [] },
    picks: [undefined],
  },
  {
    name: 'refusal',
    data: { limit: '40 MB', openCases: [{ number: 3, subject: 'Otro <caso>', url: 'https://mesa.example/caso/3' }] },
    picks: [
      { reason: 'reasons.too_large' },
      { reason: 'reasons.not_entitled' },
      { reason: 'reasons.over_limit' },
      { reason: 'reasons.other' },
      { reason: 'reasons.missing' },
    ],
  },
  {
    name: 'consultant-notice',
    data: { items: ['«/volar»: comando <desconocido>'], commands },
    picks: [{ heading: 'headingCommands', intro: 'introCommands', next: 'nextCommands' }],
  },
  {
    name: 'consultant-notice',
    data: { items: ['sin verificar'], commands: [] },
    picks: [{ heading: 'headingUnverified', intro: 'introUnverified', next: 'nextUnverified' }],
  },
  {
    name: 'links',
    data: {
      cases: [
        { number: 42, subject: HOSTILE, url: 'https://mesa.example/caso/42' },
        { number: 43, subject: 'Otro', url: 'https://mesa.example/caso/43' },
      ],
    },
    picks: [{ heading: 'headingFresh' }, { heading: 'headingLost' }],
  },
  {
    name: 'mailbox-alert',
    data: {
      user: 'soporte@<empresa>.com',
      code: 'invalid_grant AADSTS50173',
      explanation: `Buzón de soporte: ${HOSTILE}`,
      mailboxArgument: 'soporte',
    },
    picks: [undefined],
  },
  {
    name: 'autoclose-warning',
    data: { closeAtText: 'martes 24 de noviembre, 17:00', caseUrl: 'https://mesa.example/caso/1' },
    picks: [undefined],
  },
  {
    name: 'digest',
    data: {
      dateText: 'lunes 23 de noviembre',
      count: 2,
      redCount: 1,
      yellowCount: 0,
      cases: [
        {
          number: 42,
          subject: HOSTILE,
          organization: 'empresa.com',
          priority: 'alta',
          stage: 'abierto',
          unassigned: true,
          lightLabel: 'rojo',
          color: '#cf222e',
          due: 'hoy 17:00',
          url: 'https://mesa.example/caso/42',
        },
        {
          number: 43,
          subject: 'Otro',
          organization: 'otra.com',
          priority: 'baja',
          stage: 'analisis',
          unassigned: false,
          lightLabel: 'verde',
          color: '#1a7f37',
          due: '—',
          url: 'https://mesa.example/caso/43',
        },
      ],
    },
    picks: [undefined],
  },
];

describe('template fill', () => {
  it('covers every template', () => {
    expect(new Set(cases.map((c) => c.name))).toEqual(new Set(TEMPLATE_NAMES));
  });

  it('gives byte for byte the mail of the full-table fill, for every template, locale and variant', () => {
    const renderer = new TemplateRenderer();
    const reference = new TemplateRenderer();
    let compared = 0;
    for (const locale of ['es', 'en'] as Locale[]) {
      for (const c of cases) {
        for (const pick of c.picks) {
          const data = { ...common, ...c.data };
          const label = `${c.name}/${locale}/${JSON.stringify(pick)}`;
          const expected = fullTableRender(reference, TEMPLATE_DIR, c.name, locale, data, pick);
          // Twice: the second render runs on what the first one cached.
          for (let i = 0; i < 2; i++) {
            const got = renderer.render(c.name, locale, data, pick);
            expect(got.subject, label).toBe(expected.subject);
            expect(got.html, label).toBe(expected.html);
            expect(got.text, label).toBe(expected.text);
          }
          compared++;
        }
      }
    }
    expect(compared).toBe(2 * cases.reduce((n, c) => n + c.picks.length, 0));
    // The caller's table is still its own copy: render() did not write its picks into it.
    expect(renderer.table('consultant-case', 'es').heading).toBeUndefined();
  });

  it('finds the strings a layout uses inside sections, and falls back to all of them for `s` itself or a partial', () => {
    expect(
      referencedStrings(
        '{{{s.a}}} {{s.b}} {{#list}}{{#x}}{{{s.c}}}{{/x}}{{/list}} {{^s.d}}{{/s.d}} {{s.e.f}} {{other}} {{! s.comment }}',
      )?.sort(),
    ).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(referencedStrings('{{#s}}{{greeting}}{{/s}}')).toBeUndefined();
    expect(referencedStrings('{{> partial}}')).toBeUndefined();
    expect(referencedStrings('no tags')).toEqual([]);
    const r = new TemplateRenderer();
    const html = referencedStrings(r.compiled('consultant-case'))!;
    // Used by the layout (nested in a section or in the head partial) vs. kept in the table for the notifier only.
    expect(html).toEqual(
      expect.arrayContaining(['title', 'preview', 'heading', 'attachmentsTitle', 'commandsTitle', 'footer']),
    );
    expect(html).not.toContain('unassigned');
    expect(html).not.toContain('headingNew');
  });

  it('fills a template parsed once as Mustache renders it: standalone tags, CRLF, comments, other delimiters', () => {
    // Lines that hold only a tag lose their indentation and line break; the text tokens of the parse keep what is
    // left, which fill() must give back as it is.
    const template =
      'a\n  {{#x}}\n  b {{y}}\n  {{/x}}\r\n{{! c }}\n  {{^z}}\nno\n  {{/z}}  \n{{=<% %>=}}\n<% y %> fin\n' +
      '<%={{ }}=%>\n{{#x}}{{.}}{{/x}}\n\t{{! sola }}\t\nñandú {{{y}}}';
    for (const view of [
      { x: [1, 2], y: '<y>', z: false },
      { x: [], y: '', z: true },
    ]) {
      const tokens = parsed(template);
      expect(fill(tokens, template, view)).toBe(mustache.render(template, view));
      expect(fill(tokens, template, view)).toBe(mustache.render(template, view));
    }
  });

  it('fills the whole table when a layout uses `s` as a whole, with the same result as before', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-tpl-fill-'));
    fs.mkdirSync(path.join(dir, 'strings'));
    fs.writeFileSync(
      path.join(dir, 'answer.mjml'),
      '<mjml><mj-body><mj-section><mj-column><mj-text>{{#s}}{{{greeting}}} {{intro}}{{/s}}</mj-text></mj-column></mj-section></mj-body></mjml>',
    );
    fs.writeFileSync(path.join(dir, 'answer.txt'), '{{#s}}{{{greeting}}}\n{{{intro}}}{{/s}}\n{{{s.other}}}\n');
    const strings = {
      common: { greeting: 'Hola {{name}}:' },
      answer: { title: 'Caso {{number}}', intro: 'Le <strong>respondimos</strong> {{x}}', other: 'otra' },
    };
    fs.writeFileSync(path.join(dir, 'strings', 'es.json'), JSON.stringify(strings));
    const r = new TemplateRenderer(dir);
    const data = { name: 'Carla <C>', number: 7, x: '<b>' };
    const got = r.render('answer', 'es', data);
    expect(got).toEqual(fullTableRender(new TemplateRenderer(dir), dir, 'answer', 'es', data));
    expect(got.html).toContain(
      'Hola Carla &lt;C&gt;: Le &lt;strong&gt;respondimos&lt;&#x2F;strong&gt; &amp;lt;b&amp;gt;',
    );
    expect(got.text).toBe('Hola Carla <C>:\nLe respondimos <b>\notra\n');
  });
});
