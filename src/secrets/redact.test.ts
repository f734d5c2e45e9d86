// Redaction of evidence: key material under any member name, in any container spelling, in whole or
// cut-off bodies, never survives; key_IDs stay readable.
import { describe, expect, it } from 'vitest';
import { encodings } from '../report/leak-scan.ts';
import { fingerprint } from './fingerprint.ts';
import { redactJson, redactText } from './redact.ts';

const KEY = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff));
const B64 = KEY.toString('base64');
const ID = '6b7c1f0e-8d5a-4c3b-9a2e-1f0d3c4b5a69';

/** True when the text shows the key in any encoding the leak scan knows. */
const leaks = (text: string): boolean => encodings(KEY).some((f) => text.includes(f));

describe('redactJson', () => {
  it.each(['keys', 'Keys', 'KEYS', 'kEyS'])('masks every member of a "%s" entry except key_ID and key_ID_extension', (container) => {
    const body = { [container]: [{ key_ID: ID, key_ID_extension: { route: 'direct' }, key_value: B64, key: B64, Material: B64, key_extension: { raw: B64 } }] };
    const out = redactJson(body) as Record<string, Array<Record<string, unknown>>>;
    const entry = out[container]![0]!;
    expect(entry.key_ID).toBe(ID);
    expect(entry.key_ID_extension).toEqual({ route: 'direct' });
    for (const m of ['key_value', 'key', 'Material']) expect(entry[m]).toBe(`<redacted ${fingerprint(KEY)}>`);
    expect(entry.key_extension).toMatch(/^<redacted object sha256:[0-9a-f]{8}>$/);
    expect(leaks(JSON.stringify(out))).toBe(false);
  });

  it('replaces non-string values of an entry (numbers, arrays, objects) but keeps null', () => {
    const out = redactJson({ keys: [{ key_ID: ID, key: [...KEY], n: 12345, nested: { deeper: [B64] }, key_extension: null }] }) as { keys: Array<Record<string, unknown>> };
    const e = out.keys[0]!;
    expect(e.key).toMatch(/^<redacted array /);
    expect(e.n).toMatch(/^<redacted number /);
    expect(e.nested).toMatch(/^<redacted object /);
    expect(e.key_extension).toBeNull();
    expect(JSON.stringify(out)).not.toContain('12345');
  });

  it('masks entries that are not objects, a container that is one object, and entries outside a container', () => {
    expect(redactJson({ Keys: [B64, 7] })).toEqual({ Keys: [`<redacted ${fingerprint(KEY)}>`, expect.stringMatching(/^<redacted number /)] });
    expect(redactJson({ keys: { key_ID: ID, k: B64 } })).toEqual({ keys: { key_ID: ID, k: `<redacted ${fingerprint(KEY)}>` } });
    expect(redactJson([{ key_ID: ID, value: B64 }])).toEqual([{ key_ID: ID, value: `<redacted ${fingerprint(KEY)}>` }]);
    expect(redactJson({ data: { KEYS: [{ key_ID: ID, blob: B64 }] } })).toEqual({ data: { KEYS: [{ key_ID: ID, blob: `<redacted ${fingerprint(KEY)}>` }] } });
  });

  it('masks secret members anywhere and leaves everything else alone', () => {
    const status = { source_KME_ID: 'KME_A', key_size: 256, stored_key_count: 25000, psk: B64, message: 'ok' };
    expect(redactJson(status)).toEqual({ ...status, psk: `<redacted ${fingerprint(KEY)}>` });
    expect(redactJson({ key_IDs: [{ key_ID: ID }] })).toEqual({ key_IDs: [{ key_ID: ID }] });
  });
});

describe('redactText', () => {
  it('redacts JSON structurally, in any container spelling', () => {
    for (const c of ['keys', 'Keys', 'KEYS']) {
      const out = redactText(JSON.stringify({ [c]: [{ key_ID: ID, key_value: B64 }] }));
      expect(leaks(out)).toBe(false);
      expect(JSON.parse(out)).toEqual({ [c]: [{ key_ID: ID, key_value: `<redacted ${fingerprint(KEY)}>` }] });
    }
  });

  it('never leaks from a key container cut off anywhere, whatever its member names, and keeps the key_ID readable', () => {
    const whole = JSON.stringify({ Keys: [{ key_ID: ID, key_value: B64, extra: 424242 }, { key_ID: ID, key_value: KEY.toString('hex') }] });
    for (let cut = 1; cut < whole.length; cut++) {
      const out = redactText(whole.slice(0, cut));
      expect(leaks(out), `cut at ${cut}`).toBe(false);
      expect(out).not.toContain('424242');
    }
    expect(redactText(whole.slice(0, whole.indexOf('extra')))).toContain(`"key_ID":"${ID}"`);
  });

  it('masks a cut-off entry even before the container member or with no container at all', () => {
    for (const text of [`[{"key_ID":"${ID}","value":"${B64}"`, `{"data":[{"Key_Material":"${B64}","key_ID":"${ID}"`, `garbage {"KEYS" : [ {"x": ${[...KEY].join(',')}`]) {
      const out = redactText(text);
      expect(leaks(out)).toBe(false);
      expect(out).not.toMatch(/\d{3},\d/);
    }
  });

  it('keeps non-JSON text without a key container readable, masking only secret members', () => {
    expect(redactText('<html><body>Unauthorized 401</body></html>')).toBe('<html><body>Unauthorized 401</body></html>');
    expect(redactText(`{"message":"bad", "psk": "${B64}", "n": 3`)).toBe(`{"message":"bad", "psk": "<redacted ${fingerprint(KEY)}>", "n": 3`);
  });

  it('caps the output after redaction', () => {
    const out = redactText(JSON.stringify({ keys: Array.from({ length: 200 }, () => ({ key_ID: ID, key: B64 })) }), 100);
    expect(out).toMatch(/^.{100}… \(\d+ more characters\)$/s);
  });
});
