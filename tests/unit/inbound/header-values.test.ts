import { describe, expect, it } from 'vitest';
import { idList, stripBrackets } from '../../../src/inbound/header-values.ts';

describe('ids and addresses without their angle brackets', () => {
  it.each([
    ['<abc@x.co>', 'abc@x.co'],
    ['<<abc@x.co>>', 'abc@x.co'],
    [' abc@x.co ', 'abc@x.co'],
    ['<>', ''],
    ['a>b<c', 'a>b<c'],
  ])('«%s» → «%s»', (value, expected) => {
    expect(stripBrackets(value)).toBe(expected);
  });

  it('takes a References header of a long run of «>» in one pass', () => {
    const forged = `${'>'.repeat(200_000)}x`;
    expect(stripBrackets(forged)).toBe(forged);
    expect(idList(forged)).toEqual([]);
    // Leading «>» are not brackets that open: the value stays as it came, and is dropped only past 998 characters.
    expect(idList(`${'>'.repeat(50)}a@x.co`)).toEqual([`${'>'.repeat(50)}a@x.co`]);
  });
});
