import { describe, expect, it } from 'vitest';
import { spanishError } from '../../../src/cli/spanish.ts';

// Commander's parse errors, as its lib/command.js writes them, said again in Spanish.
describe('spanishError', () => {
  it.each([
    ["error: missing required argument 'número'\n", 'mesa: falta el argumento obligatorio «número»\n'],
    ["error: unknown option '--bogus'\n", 'mesa: opción desconocida «--bogus»\n'],
    ["error: option '--now <iso>' argument missing\n", 'mesa: falta el valor de la opción «--now <iso>»\n'],
    ["error: required option '--to <correo>' not specified\n", 'mesa: falta la opción obligatoria «--to <correo>»\n'],
    [
      "error: too many arguments for 'show'. Expected 1 argument but got 2.\n",
      'mesa: demasiados argumentos para «show»: se esperaban 1 y llegaron 2\n',
    ],
    [
      "error: unknown command 'tickts'\n(Did you mean tickets?)\n",
      'mesa: orden desconocida «tickts»\n(¿Quiso decir tickets?)\n',
    ],
    [
      "error: unknown option '--jsn'\n(Did you mean one of --json, --js?)\n",
      'mesa: opción desconocida «--jsn»\n(¿Quiso decir --json, --js?)\n',
    ],
  ])('%j', (english, spanish) => {
    expect(spanishError(english)).toBe(spanish);
  });

  it('passes an error it does not know through as commander wrote it', () => {
    expect(spanishError("error: option '-x' cannot be used with option '-y'\n")).toBe(
      "error: option '-x' cannot be used with option '-y'\n",
    );
  });
});
