import { describe, expect, it } from 'vitest';
import { parseAuthenticationResults } from '../../../../src/inbound/authentication-results.ts';
import { authResultsPass } from '../../../../src/inbound/filters/consultant-auth.ts';

/** RFC 8601 §2.2 syntax, as the consultant-auth filter reads it (and the examples of RFC 8601 Appendix B). */
describe('Authentication-Results parser', () => {
  it('reads the authserv-id, its version and each method with its properties', () => {
    const p = parseAuthenticationResults(
      'mx.mesa.test 1; dkim=pass header.d=mesa.test header.s=s1; spf=fail smtp.mailfrom=x@otro.example; dmarc=pass header.from=mesa.test',
    );
    expect(p.value).toBe('mx.mesa.test');
    expect(p.version).toBe('1');
    expect(p.dkim).toEqual([{ value: 'pass', header: { d: 'mesa.test', s: 's1' } }]);
    expect(p.spf).toEqual({ value: 'fail', smtp: { mailfrom: 'x@otro.example' } });
    expect(p.dmarc).toEqual({ value: 'pass', header: { from: 'mesa.test' } });
  });

  it('drops comments, nested or holding ; and =, and unquotes quoted strings', () => {
    const p = parseAuthenticationResults(
      'mx.mesa.test (a comment; with (nested) parts=x);\r\n\tdkim=pass (good signature; really) header.i="@correo.mesa.test";\r\n\tspf=pass (sender IP is 192.0.2.1) smtp.mailfrom="ana@mesa.test" reason="SPF \\"ok\\""',
    );
    expect(p.value).toBe('mx.mesa.test');
    expect(p.dkim).toEqual([{ value: 'pass', header: { i: '@correo.mesa.test' } }]);
    expect(p.spf).toEqual({ value: 'pass', smtp: { mailfrom: 'ana@mesa.test' }, reason: 'SPF "ok"' });
  });

  it('takes spaces around =, method versions, upper case, one dkim result per signature', () => {
    const p = parseAuthenticationResults(
      'MX.Mesa.Test; DKIM/1 = PASS Header.D = a.example; dkim=fail header.d=b.example; auth=pass smtp.auth=ana',
    );
    expect(p.value).toBe('MX.Mesa.Test');
    expect(p.dkim).toEqual([
      { value: 'pass', header: { d: 'a.example' } },
      { value: 'fail', header: { d: 'b.example' } },
    ]);
    expect(p.auth).toEqual({ value: 'pass', smtp: { auth: 'ana' } });
  });

  it('has no results for `none`, an empty or a malformed field, and never throws', () => {
    expect(parseAuthenticationResults('mx.mesa.test; none')).toEqual({ value: 'mx.mesa.test' });
    expect(parseAuthenticationResults('')).toEqual({ value: '' });
    for (const bad of [
      'mx;;;',
      '(sin cerrar',
      'mx; =pass',
      'mx; dkim',
      '"sin cerrar',
      'mx; dkim=pass header.=x .d=y',
      'mx; __proto__=pass; constructor=pass __proto__.x=1',
    ]) {
      expect(() => parseAuthenticationResults(bad)).not.toThrow();
    }
    expect(Object.prototype).not.toHaveProperty('x');
    expect(parseAuthenticationResults('mx; value=pass; version=pass').value).toBe('mx');
  });

  it('lets a trusted authserv-id with a version number authenticate a consultant, and no other', () => {
    const headers = (ar: string[]) => ({
      raw: Buffer.from([...ar.map((v) => `Authentication-Results: ${v}`), 'From: ana@mesa.test', '', 'x'].join('\r\n')),
    });
    expect(
      authResultsPass(headers(['mx.mesa.test 1; dmarc=pass header.from=mesa.test']), ['mx.mesa.test'], 'ana@mesa.test'),
    ).toBe('dmarc');
    expect(
      authResultsPass(
        headers(['mx.mesa.test (dmarc=pass header.from=mesa.test); dmarc=fail header.from=mesa.test']),
        ['mx.mesa.test'],
        'ana@mesa.test',
      ),
    ).toBeUndefined();
    expect(
      authResultsPass(headers(['"mx.mesa.test"; dkim=pass header.d="mesa.test"']), ['mx.mesa.test'], 'ana@mesa.test'),
    ).toBe('dkim');
    expect(
      authResultsPass(
        headers(['mx.mesa.test.otro.example; dmarc=pass header.from=mesa.test']),
        ['mx.mesa.test'],
        'ana@mesa.test',
      ),
    ).toBeUndefined();
  });
});
