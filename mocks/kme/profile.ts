// The ready-made target profile (src/target/schema.ts) for a running mock: master SAE at A, slave at B,
// outsider (for 401 tests) at B, lenient. Written into the PKI directory with paths relative to it.
import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { stringify } from 'yaml';
import type { TestPki } from '../../src/pki/test-pki.ts';
import type { MockConfig } from './config.ts';
import type { KmeName } from './registry.ts';
import { formatHostPort } from './host-port.ts';

/**
 * The URL of a KME listening on `host` (wildcards become loopback; IPv6 gets brackets): http:// when the
 * mock starts with the plain-http deviation, so its profile describes what it really serves.
 */
export function urlFor(host: string, port: number, plain = false): string {
  const h = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `${plain ? 'http' : 'https'}://${formatHostPort({ host: h, port })}`;
}

export function writeProfile(file: string, o: { pki: TestPki; config: MockConfig; urls: Record<KmeName, string> }): string {
  const dir = o.pki.dir;
  const rel = (p: string): string => relative(dir, p);
  const c = o.config;
  const sae = (id: string | undefined, kme: KmeName) => (id && o.pki.saes[id] ? { id, kme, cert: rel(o.pki.saes[id]!.cert), key: rel(o.pki.saes[id]!.key) } : undefined);
  const master = sae(c.kmes.A.saes[0], 'A');
  const slave = sae(c.kmes.B.saes[0], 'B');
  if (!master || !slave) throw new Error('a target profile needs an SAE at KME A and one at KME B');
  const outsider = sae(c.kmes.B.saes[1], 'B');
  const profile = {
    name: 'qkd-harness-mock',
    kmes: {
      A: { url: o.urls.A, ca: rel(o.pki.ca), kme_id: c.kmes.A.kme_id },
      B: { url: o.urls.B, ca: rel(o.pki.ca), kme_id: c.kmes.B.kme_id },
    },
    saes: { master, slave, ...(outsider ? { outsider } : {}) },
    profile: 'lenient',
    negative: { expired_client: { cert: rel(o.pki.bad.expiredSae.cert), key: rel(o.pki.bad.expiredSae.key) } },
    allow_exhaustion: true,
  };
  const path = join(dir, file);
  writeFileSync(path, `# Target profile for the qkd-harness mock KME pair (written by \`qkd-harness mock\`).\n${stringify(profile)}`, { mode: 0o644 });
  return path;
}
