import { describe, expect, it } from 'vitest';
import { cutText } from '../../../src/text-cut.ts';

describe('cutText (src/text-cut.ts)', () => {
  it('keeps a text within its length as it is, and cuts a longer one at the length', () => {
    expect(cutText('Hola', 10)).toBe('Hola');
    expect(cutText('Hola mundo', 4)).toBe('Hola');
    expect(cutText('', 0)).toBe('');
  });

  it('never leaves half an emoji: a cut inside one drops it, a cut after one keeps it', () => {
    const text = 'ok 😀 fin';
    expect(cutText(text, 4)).toBe('ok ');
    expect(cutText(text, 5)).toBe('ok 😀');
    expect(cutText(text, 4).isWellFormed()).toBe(true);
  });

  it('leaves accented letters whole (one code unit each)', () => {
    expect(cutText('añoñandú', 3)).toBe('año');
  });
});
