// A site's mock KME: `qkd-harness mock --only A|B` in the site's namespace, listening on the site's
// underlay address, linked to the other site's KME over the underlay (KMS↔KMS reservations) and sharing
// the simulated QKD link's seed, so both ends hold the same keys. Both use one test PKI whose KME
// certificates carry the lab addresses.
import { createTestPki, type TestPki } from '../pki/test-pki.ts';
import { ADDRESSES, PORTS, type SiteName } from './names.ts';
import { join } from 'node:path';
import { REPO_ROOT } from './node.ts';

export const KME_OF: Record<SiteName, 'A' | 'B'> = { alice: 'A', bob: 'B' };
/** Default SAE registry of the mock: SAE_A at KME A, SAE_B (and SAE_C) at KME B. */
export const SAE_OF: Record<SiteName, string> = { alice: 'SAE_A', bob: 'SAE_B' };

export function labPki(dir: string): Promise<TestPki> {
  return createTestPki(
    dir,
    {
      kmes: [
        { name: 'kme-a', kmeId: 'KME_A', ips: [ADDRESSES.underlay.alice] },
        { name: 'kme-b', kmeId: 'KME_B', ips: [ADDRESSES.underlay.bob] },
      ],
      saes: ['SAE_A', 'SAE_B', 'SAE_C'],
    },
    { reuse: true },
  );
}

/** The argv of one site's KME process; `faultsFile`: its run-time fault control file (src/lab/fault-files.ts). */
export function kmeArgv(site: SiteName, pkiDir: string, seedHex: string, faultsFile?: string): string[] {
  const self = ADDRESSES.underlay[site];
  const peer = ADDRESSES.underlay[site === 'alice' ? 'bob' : 'alice'];
  const which = KME_OF[site];
  return [
    process.execPath,
    join(REPO_ROOT, 'bin/qkd-harness.js'), // compiled when dist/ is current, else tsx (src/util/entry.js)
    'mock',
    '--only',
    which,
    '--pki',
    pkiDir,
    '--host',
    self,
    `--port-${which.toLowerCase()}`,
    String(PORTS.kme),
    '--link-listen',
    `${self}:${PORTS.kmsLink}`,
    // One dialling side is enough: bob's KME dials alice's.
    ...(site === 'bob' ? ['--link-peer', `${peer}:${PORTS.kmsLink}`] : []),
    '--link-seed',
    seedHex,
    '--peer-url',
    kmeUrl(site === 'alice' ? 'bob' : 'alice'),
    ...(faultsFile ? ['--faults-file', faultsFile] : []),
  ];
}

export function kmeUrl(site: SiteName): string {
  return `https://${ADDRESSES.underlay[site]}:${PORTS.kme}`;
}

/** What the key-control agent of `site` calls: `{KMS_URL}/enc_keys`, `{KMS_URL}/dec_keys` — the peer's SAE. */
export function kmsUrlFor(site: SiteName): string {
  return `${kmeUrl(site)}/api/v1/keys/${SAE_OF[site === 'alice' ? 'bob' : 'alice']}`;
}
