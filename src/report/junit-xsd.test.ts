// junit.xml as CI servers read it: a conformance run's report (failures and skips included) validates
// against the JUnit schema in specs/junit/junit.xsd with xmllint (Debian libxml2-utils), and a report
// that breaks the format does not.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, startMockCli, stopCliChildren } from '../testing/cli.ts';

const XSD = join(import.meta.dirname, '..', '..', 'specs', 'junit', 'junit.xsd');
const hasXmllint = spawnSync('xmllint', ['--version']).status === 0;
// CI installs libxml2-utils (.ci/apt-packages) and sets QKD_REQUIRE_LAB=1: there a missing xmllint fails.
const skip = hasXmllint || process.env.QKD_REQUIRE_LAB === '1' ? undefined : 'xmllint is not installed (Debian: apt install libxml2-utils)';

afterAll(stopCliChildren);

const validate = (file: string) => spawnSync('xmllint', ['--noout', '--schema', XSD, file], { encoding: 'utf8', timeout: 30_000 });

describe.skipIf(Boolean(skip))(`junit.xml against the JUnit schema${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('a conformance run with failures and skips writes a junit.xml that validates; one without a test case name does not', async () => {
    if (!hasXmllint) throw new Error('xmllint is missing: install libxml2-utils');
    const mock = await startMockCli(['--deviation', 'keys-not-removed']);
    const reports = mkdtempSync(join(tmpdir(), 'qkd-junit-'));
    const r = await runCli(['conformance', '--target', mock.profile, '--strict', '--grep', 'qkd014/5.4', '--reports', reports]);
    expect(r.code, r.stderr).toBe(1);
    const file = join(reports, 'junit.xml');
    const xml = readFileSync(file, 'utf8');
    expect(xml).toContain('<failure');
    expect(xml).toContain('<skipped');
    const ok = validate(file);
    expect(ok.status, ok.stderr).toBe(0);
    // The schema means something: a test case without its name is refused.
    const broken = join(reports, 'broken.xml');
    writeFileSync(broken, xml.replace(/<testcase classname="([^"]*)" name="[^"]*"/, '<testcase classname="$1"'));
    const bad = validate(broken);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/attribute 'name' is required/);
    expect(execFileSync('xmllint', ['--noout', XSD]).length).toBe(0); // the schema itself is well-formed XML
  }, 120_000);
});
