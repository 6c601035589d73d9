import { describe, expect, it } from 'vitest';
import { MAX_MAIL_HTML_DEPTH, nestsDeeperThan } from '../../../src/services/html-nesting.ts';

const nested = (depth: number, tag = 'div') => `${`<${tag}>`.repeat(depth)}hola${`</${tag}>`.repeat(depth)}`;

describe('how deep a mail HTML nests, before it is sanitized', () => {
  it('tells nesting past the limit from nesting up to it', () => {
    expect(nestsDeeperThan(nested(MAX_MAIL_HTML_DEPTH))).toBe(false);
    expect(nestsDeeperThan(nested(MAX_MAIL_HTML_DEPTH + 1))).toBe(true);
    expect(nestsDeeperThan(nested(400).repeat(300))).toBe(false);
  });

  it('counts tags left open, as the parser keeps them', () => {
    expect(nestsDeeperThan('<b><i><u>'.repeat(200))).toBe(true);
    expect(nestsDeeperThan('<font face="Arial">'.repeat(600))).toBe(true);
    expect(nestsDeeperThan('<x-marca>'.repeat(600))).toBe(true);
  });

  it('closes what HTML closes by itself: paragraphs, items, rows and cells', () => {
    expect(nestsDeeperThan('<p>uno'.repeat(5000))).toBe(false);
    expect(nestsDeeperThan(`<ul>${'<li>punto'.repeat(5000)}</ul>`)).toBe(false);
    expect(nestsDeeperThan(`<table>${'<tr><td>1<td>2<th>3'.repeat(5000)}</table>`)).toBe(false);
    expect(nestsDeeperThan(`<dl>${'<dt>a<dd>b'.repeat(5000)}</dl>`)).toBe(false);
  });

  it('does not count void elements, self-closed tags or comments', () => {
    expect(nestsDeeperThan('<br><img src="cid:a"><hr><meta charset="utf-8">'.repeat(5000))).toBe(false);
    expect(nestsDeeperThan('<div/>'.repeat(5000))).toBe(false);
    expect(nestsDeeperThan('<!-- <div><div> -->'.repeat(5000))).toBe(false);
    expect(nestsDeeperThan(`<p>hola</p><!-- ${'<div>'.repeat(5000)}`)).toBe(false);
  });

  it('reads a tag closed far below as still open, erring on the deep side', () => {
    // </span> ends an element 21 levels down: read as open, 20 more <div> go past the limit (492 if it had closed).
    const far = `${'<div>'.repeat(MAX_MAIL_HTML_DEPTH - 40)}<span>${'<b></b>'.repeat(10)}${'<i>'.repeat(20)}</span>`;
    expect(nestsDeeperThan(far)).toBe(false);
    expect(nestsDeeperThan(`${far}${'<div>'.repeat(20)}`)).toBe(true);
    expect(nestsDeeperThan(`${far.replace('</span>', '</i>'.repeat(20) + '</span>')}${'<div>'.repeat(20)}`)).toBe(
      false,
    );
  });

  it('takes text that only looks like tags: lone brackets, no closing bracket', () => {
    expect(nestsDeeperThan('< 3 y > 2 '.repeat(5000))).toBe(false);
    expect(nestsDeeperThan('<a'.repeat(100_000))).toBe(false);
    expect(nestsDeeperThan(`${'< '.repeat(100_000)}>`)).toBe(false);
  });
});
