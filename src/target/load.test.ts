// Target profiles: a valid one loads with paths resolved and ${ENV} substituted; every malformed one
// is refused with the file, the field (with its line) and what is wrong.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTargetProfile, ProfileError } from './load.ts';

const dir = mkdtempSync(join(tmpdir(), 'qkd-profile-'));
for (const f of ['ca.pem', 'a.pem', 'a.key', 'b.pem', 'b.key']) writeFileSync(join(dir, f), 'x');

const VALID = `name: acme-kms
kmes:
  A: { url: https://kme-a.example:8443, ca: ca.pem, kme_id: KME_A }
  B: { url: https://kme-b.example:8443, ca: ca.pem }
saes:
  master: { id: SAE_A, kme: A, cert: a.pem, key: a.key }
  slave:  { id: "\${SLAVE_ID}", kme: B, cert: b.pem, key: b.key }
profile: strict
`;

function write(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

function refusal(text: string, env: NodeJS.ProcessEnv = { SLAVE_ID: 'SAE_B' }): string {
  const file = write(`p${Math.random().toString(36).slice(2)}.yaml`, text);
  try {
    loadTargetProfile(file, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ProfileError);
    const msg = (err as Error).message;
    expect(msg).toContain(file);
    return msg;
  }
  throw new Error('profile was accepted');
}

describe('target profile loader', () => {
  it('loads a valid profile, resolving paths against the file and substituting ${ENV}', () => {
    const p = loadTargetProfile(write('ok.yaml', VALID), { SLAVE_ID: 'SAE_B' });
    expect(p.saes.slave.id).toBe('SAE_B');
    expect(p.kmes.A!.ca).toBe(join(dir, 'ca.pem'));
    expect(p.saes.master.key).toBe(join(dir, 'a.key'));
    expect(p.profile).toBe('strict');
    expect(p.timeout_ms).toBe(10_000);
  });

  it('names an unset environment variable and its field', () => {
    expect(refusal(VALID, {})).toMatch(/:7:\d+: field saes\.slave\.id uses \$\{SLAVE_ID\}, but the environment variable SLAVE_ID is not set/);
  });

  it("drops a site's HSM PIN whose variable is unset (one site's PIN must not stop the others) and says which variable it named", () => {
    const sites = `sites:\n  a: { wireguard: { interface: wg0 }, hsm: { module: /m.so, token: A, pin: "\${A_PIN}" } }\n  b: { wireguard: { interface: wg0 }, hsm: { module: /m.so, token: B, pin: "\${B_PIN}" } }\n`;
    const p = loadTargetProfile(write('pins.yaml', VALID + sites), { SLAVE_ID: 'SAE_B', A_PIN: '1234' });
    expect(p.sites!.a!.hsm!.pin).toBe('1234');
    expect(p.sites!.b!.hsm!.pin).toBeUndefined();
    expect(p.unsetPinVariables).toEqual({ b: ['B_PIN'] });
    expect(refusal(VALID + sites.replace('token: A', 'token: "${A_TOKEN}"'), { SLAVE_ID: 'SAE_B' })).toMatch(/field sites\.a\.hsm\.token uses \$\{A_TOKEN\}, but the environment variable A_TOKEN is not set/);
  });

  it('names a missing required field', () => {
    expect(refusal(VALID.replace('name: acme-kms\n', ''))).toMatch(/field name .*(expected string|received undefined)/i);
  });

  it('names a field of the wrong type with its line', () => {
    expect(refusal(VALID.replace('profile: strict', 'profile: [strict]'))).toMatch(/:8:\d+: field profile /);
  });

  it('names an unknown field', () => {
    expect(refusal(VALID + 'vendor: x\n')).toMatch(/unknown: vendor/);
  });

  it('names a bad URL', () => {
    expect(refusal(VALID.replace('https://kme-b.example:8443', 'kme-b:8443'))).toMatch(/field kmes\.B\.url must be an http\(s\) URL/);
  });

  it('names an SAE pointing at an unknown KME', () => {
    expect(refusal(VALID.replace('kme: B,', 'kme: C,'))).toMatch(/field saes\.slave\.kme names KME "C"/);
  });

  it('names a file that does not exist, with where it was looked for', () => {
    expect(refusal(VALID.replace('cert: a.pem', 'cert: missing.pem'))).toMatch(/field saes\.master\.cert names missing\.pem, which does not exist \(resolved to .*missing\.pem\)/);
  });

  it('loads a plain-HTTP profile without any TLS files', () => {
    const plain = `name: arnika-kms-sim
kmes:
  A: { url: http://kms-a.example:8080, kme_id: KME_A }
  B: { url: http://kms-b.example:8080 }
saes:
  master: { id: SAE_A, kme: A }
  slave:  { id: SAE_B, kme: B }
`;
    const p = loadTargetProfile(write('plain.yaml', plain));
    expect(p.kmes.A!.ca).toBeUndefined();
    expect(p.saes.master.cert).toBeUndefined();
  });

  it('still requires the TLS files of an https:// KME, naming the field', () => {
    expect(refusal(VALID.replace('url: https://kme-b.example:8443, ca: ca.pem', 'url: https://kme-b.example:8443'))).toMatch(/field kmes\.B\.ca is required for an https:\/\/ KME/);
    expect(refusal(VALID.replace(', cert: a.pem', ''))).toMatch(/field saes\.master\.cert is required: KME "A" is https:\/\//);
    expect(refusal(VALID.replace(', key: b.key', ''))).toMatch(/field saes\.slave\.key is required/);
  });

  it('refuses a plain-HTTP SAE with a certificate but no key', () => {
    const text = VALID.replace('https://kme-a.example:8443, ca: ca.pem', 'http://kme-a.example:8080').replace(', key: a.key', '');
    expect(refusal(text)).toMatch(/field saes\.master\.key is missing: a client certificate and its key go together/);
  });

  it('reports YAML syntax errors with line and column', () => {
    expect(refusal('name: [unclosed\n')).toMatch(/:\d+:\d+: not valid YAML/);
  });

  it('reports duplicate keys', () => {
    expect(refusal(VALID + 'name: again\n')).toMatch(/not valid YAML/);
  });

  it('reports an unreadable file', () => {
    expect(() => loadTargetProfile(join(dir, 'nope.yaml'))).toThrow(/nope\.yaml: cannot be read \(ENOENT\)/);
  });
});
