// The mock's configuration: defaults, validation with one-line errors naming the field, YAML files.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadMockConfig, parseMockConfig } from './config.ts';
import { DEVIATION_NAMES } from './deviations.ts';
import { mergeConfig } from './setup.ts';

const dir = mkdtempSync(join(tmpdir(), 'qkd-mock-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('mock configuration', () => {
  it('defaults: the faithful pair of the reference deployment', () => {
    const c = parseMockConfig({});
    expect(c.kmes.A).toMatchObject({ kme_id: 'KME_A', saes: ['SAE_A'], port: 0 });
    expect(c.kmes.B).toMatchObject({ kme_id: 'KME_B', saes: ['SAE_B', 'SAE_C'] });
    expect(c).toMatchObject({ host: '127.0.0.1', binding: 'cn', key_size: 256, key_rate_per_hour: 14_000, max_body_bytes: 65536, odd_sizes: 'serve', max_SAE_ID_count: 2, deviations: [] });
  });

  it('overriding one field of a KME keeps the other defaults', () => {
    expect(parseMockConfig({ kmes: { B: { kme_id: 'KME_X' } } }).kmes.B.saes).toEqual(['SAE_B', 'SAE_C']);
  });

  it.each([
    [{ key_size: 32 }, /field key_size: must lie in \[min_key_size, max_key_size\]/],
    [{ min_key_size: 2048 }, /field min_key_size/],
    [{ prefill: 10, max_key_count: 5 }, /field prefill/],
    [{ odd_sizes: 'reject', key_size: 100 }, /field key_size: must be a multiple of 8/],
    [{ kmes: { B: { kme_id: 'KME_A' } } }, /field kmes\.B\.kme_id/],
    [{ kmes: { B: { saes: ['SAE_A'] } } }, /SAE SAE_A is already attached to KME A/],
    [{ deviations: ['nope'] }, /field deviations\.0/],
    [{ binding: 'dns' }, /field binding/],
    [{ link: { seed: 'abc' } }, /field link\.seed: must be 32 to 128 hex digits/],
    [{ link: { peer: 'host' } }, /field link\.peer: must be HOST:PORT/],
    [{ colour: 'blue' }, /unknown: colour/],
  ])('refuses %j', (input, message) => {
    expect(() => parseMockConfig(input)).toThrow(ConfigError);
    expect(() => parseMockConfig(input)).toThrow(message);
  });

  it('every deviation name is accepted', () => {
    expect(parseMockConfig({ deviations: DEVIATION_NAMES }).deviations).toHaveLength(DEVIATION_NAMES.length);
  });

  it('YAML files: loaded, or refused with the file name', () => {
    const ok = join(dir, 'ok.yaml');
    writeFileSync(ok, 'binding: uri\nkmes:\n  A: { port: 8443, ips: [198.51.100.1] }\nextensions:\n  supported: { abc_route_type: null }\n');
    const c = loadMockConfig(ok);
    expect(c.binding).toBe('uri');
    expect(c.kmes.A).toMatchObject({ port: 8443, ips: ['198.51.100.1'], saes: ['SAE_A'] });
    expect(c.extensions.supported).toEqual({ abc_route_type: null });
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'binding: [\n');
    expect(() => loadMockConfig(bad)).toThrow(/bad\.yaml: not valid YAML/);
    expect(() => loadMockConfig(join(dir, 'none.yaml'))).toThrow(/none\.yaml: cannot be read \(ENOENT\)/);
  });

  it('overrides merge deeply; arrays and scalars replace', () => {
    expect(mergeConfig({ kmes: { A: { port: 1, saes: ['X'] } }, link: { seed: 's' } }, { kmes: { A: { saes: ['Y'] } }, link: { peer: undefined } })).toEqual({ kmes: { A: { port: 1, saes: ['Y'] } }, link: { seed: 's' } });
  });
});
