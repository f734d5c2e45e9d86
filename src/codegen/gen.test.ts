// Our OpenAPI lints clean with a real linter, and generated/ is exactly what the spec produces.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { listFiles } from '../report/list-files.ts';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { generate } from './gen.ts';
import { API_VERSIONS } from '../kme/version.ts';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');

function files(dir: string): Map<string, string> {
  return new Map(listFiles(dir).map((p) => [relative(dir, p), readFileSync(p, 'utf8')]));
}

describe('specs and generated code', () => {
  for (const v of Object.values(API_VERSIONS)) {
    it(`${v.spec} lints clean with Redocly (recommended-strict)`, async () => {
      const { stdout, stderr } = await run(join(root, 'node_modules/.bin/redocly'), ['lint', '--config', 'specs/redocly.yaml', v.spec, '--format', 'json'], {
        cwd: root,
        env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
      }).catch((e: { stdout: string; stderr: string }) => e);
      const report = JSON.parse(stdout) as { totals: { errors: number; warnings: number }; problems: Array<{ message: string }> };
      expect(report.problems.map((p) => p.message), stderr).toEqual([]);
      expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
    });
  }

  it('generated/ equals a fresh generation from specs/ (run `npm run gen` after editing a spec)', async () => {
    const fresh = mkdtempSync(join(tmpdir(), 'qkd-gen-'));
    await generate(fresh);
    const committed = files(join(root, 'generated'));
    const regenerated = files(fresh);
    expect([...committed.keys()].sort()).toEqual([...regenerated.keys()].sort());
    for (const [name, text] of regenerated) expect(committed.get(name), name).toBe(text);
  }, 120_000);
});
