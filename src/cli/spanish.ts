import type { Command } from 'commander';

/**
 * Commander speaks English; the people who run `mesa` read Spanish. Its public hooks carry the words: the help's
 * titles and usage placeholders (configureHelp), the help option and command, and its own parse errors
 * (configureOutput), which have fixed English forms and are said again here in Spanish, in the «mesa: …» shape of
 * Mesa's other errors. An error this list does not know is shown as commander wrote it.
 */

const TITLES: Record<string, string> = {
  'Usage:': 'Uso:',
  'Arguments:': 'Argumentos:',
  'Options:': 'Opciones:',
  'Global Options:': 'Opciones generales:',
  'Commands:': 'Órdenes:',
};

const USAGE_WORDS: Record<string, string> = { '[options]': '[opciones]', '[command]': '[orden]' };

const ERRORS: Array<[RegExp, (...groups: string[]) => string]> = [
  [/^error: missing required argument '(.+)'$/, (a) => `falta el argumento obligatorio «${a}»`],
  [/^error: unknown option '(.+)'$/, (o) => `opción desconocida «${o}»`],
  [/^error: unknown command '(.+)'$/, (c) => `orden desconocida «${c}»`],
  [/^error: option '(.+)' argument missing$/, (o) => `falta el valor de la opción «${o}»`],
  [/^error: required option '(.+)' not specified$/, (o) => `falta la opción obligatoria «${o}»`],
  [
    /^error: too many arguments(?: for '(.+)')?\. Expected (\d+) arguments? but got (\d+)\.$/,
    (c, expected, got) => `demasiados argumentos${c ? ` para «${c}»` : ''}: se esperaban ${expected} y llegaron ${got}`,
  ],
];

const inSpanishWords = (usage: string) =>
  usage
    .split(' ')
    .map((word) => USAGE_WORDS[word] ?? word)
    .join(' ');

/** Commander's error line (and its «Did you mean …?» line) in Spanish. */
export function spanishError(text: string): string {
  const [first, ...rest] = text.replace(/\n+$/, '').split('\n');
  let line = first;
  for (const [form, say] of ERRORS) {
    const m = form.exec(first);
    if (m) {
      line = `mesa: ${say(...m.slice(1))}`;
      break;
    }
  }
  const hints = rest.map((l) => l.replace(/^\(Did you mean (?:one of )?(.+)\?\)$/, '(¿Quiso decir $1?)'));
  return [line, ...hints].join('\n') + '\n';
}

/** Set on the program before its commands are added: commander copies these settings into each of them. */
export function speakSpanish(program: Command): Command {
  return program
    .helpOption('-h, --help', 'muestra esta ayuda')
    .helpCommand('help [orden]', 'muestra la ayuda de una orden')
    .configureHelp({
      styleTitle: (title) => TITLES[title] ?? title,
      styleUsage: inSpanishWords,
      styleSubcommandTerm: inSpanishWords,
    })
    .configureOutput({ outputError: (text, write) => write(spanishError(text)) });
}
