// The suite against hostile or broken KMEs: whatever a target sends — a body that never ends, a huge
// body, invalid JSON, a redirect elsewhere, a dropped connection — every requirement ends as an outcome
// (never a crash, never a pass it did not earn) within its deadline. The CLI-level suite against every
// hostile case (memory bound included) is suites/hostile/.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPki, type TestPki } from '../pki/test-pki.ts';
import { loadTargetProfile } from '../target/load.ts';
import { startHostileKme, type HostileCase, type HostileKme } from '../testing/hostile-kme.ts';
import { targetFromProfile } from './context.ts';
import { runInProcess } from './inprocess.ts';

const CASES: Record<string, { case: HostileCase; hugeBytes?: number }> = {
  'never-ending body': { case: 'endless-body' },
  'huge body': { case: 'huge-body', hugeBytes: 40 * 1024 * 1024 },
  'invalid JSON': { case: 'invalid-json' },
  'redirect elsewhere': { case: 'redirect' },
  'connection dropped': { case: 'connection-dropped' },
  'wrong types everywhere': { case: 'wrong-types' },
};

let pki: TestPki;
const kmes: HostileKme[] = [];

beforeAll(async () => {
  pki = await createTestPki(mkdtempSync(join(tmpdir(), 'qkd-hostile-')));
});
const dirs: string[] = [];

afterAll(async () => {
  await Promise.all(kmes.map((k) => k.close()));
  for (const d of [pki?.dir, ...dirs]) if (d) rmSync(d, { recursive: true, force: true });
});

describe('hostile targets', () => {
  for (const [name, c] of Object.entries(CASES)) {
    it(`${name}: every requirement ends as an outcome, none passes that depends on a valid answer`, async () => {
      const kme = await startHostileKme({ ...c, pki });
      kmes.push(kme);
      const target = targetFromProfile(loadTargetProfile(kme.writeProfile({ timeoutMs: 500, maxResponseBytes: 1024 * 1024, runBudgetS: 3600 })), { strict: true });
      const started = Date.now();
      try {
        const findings = await runInProcess(target);
        expect(findings.size).toBeGreaterThan(40);
        for (const [id, f] of findings) expect(['pass', 'fail', 'warn', 'info', 'skip', 'error'], id).toContain(f.kind);
        // A target that never answers properly cannot deliver keys: the key requirements cannot pass.
        for (const id of ['qkd014/5.3/1', 'qkd014/5.4/1', 'qkd014/5.2/1', 'qkd014/5/1']) expect(findings.get(id)?.kind, id).not.toBe('pass');
        expect(kme.redirectHits, 'a redirect to another host was followed').toBe(0);
      } finally {
        await target.close();
      }
      expect(Date.now() - started).toBeLessThan(110_000);
      // Every hostile stream ended with its client (the harness closed its connections).
      await expect.poll(() => kme.active, { timeout: 5_000 }).toBe(0);
    }, 120_000);
  }
});
