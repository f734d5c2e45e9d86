// `qkd-harness psk derive`, run for real: stdout is the PSK and a newline; errors are one line, exit 2.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { labelPskRequirements, leaksKey, loadVectors, root } from './helpers.ts';

labelPskRequirements();

interface PskCase { name: string; mode: string; qkd: string | null; pqc: string | null; psk: string; pqc_file?: string }
const cases = loadVectors<PskCase>('psk.json').cases;
const known = cases.find((c) => c.name === 'Arnika known answer')!;
const pqcOnly = cases.find((c) => c.name === 'pqc-only 32 #0')!;
const qkdOnly = cases.find((c) => c.name === 'qkd-only 32 #0')!;
const arnikaFile = cases.find((c) => c.pqc_file !== undefined)!; // a key file as Arnika's CI writes it

const dir = mkdtempSync(join(tmpdir(), 'qkd-harness-psk-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function file(name: string, text: string): string {
  writeFileSync(join(dir, name), text, { mode: 0o600 });
  return join(dir, name);
}

interface Run { code: number; stdout: string; stderr: string }
function derive(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/qkd-harness.js', 'psk', 'derive', ...args], { cwd: fileURLToPath(root) }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: unknown }).code) : 0, stdout, stderr }),
    );
  });
}

/** Success: exactly the PSK and a newline on stdout, nothing on stderr. */
function expectPsk(run: Run, psk: string, what: string) {
  expect(run.code, `${what}: exit code (stderr: ${run.stderr})`).toBe(0);
  expect(run.stdout === `${psk}\n`, `${what}: stdout is not the expected PSK + newline`).toBe(true);
  expect(run.stderr, what).toBe('');
}

// Every test spawns CLI processes (~0.5 s of CPU each): on a loaded 2-core machine that outlasts 30 s.
describe('qkd-harness psk derive', { timeout: 120_000 }, () => {
  it('psk/26 --qkd with --pqc or --pqc-file prints the hybrid PSK and a newline, nothing else', async () => {
    const runs = await Promise.all([
      derive('--qkd', known.qkd!, '--pqc', known.pqc!),
      derive('--qkd', known.qkd!, '--pqc-file', file('key_out', known.pqc!)),
      derive('--mode', 'hybrid', '--pqc-file', file('key_out2', known.pqc!), '--qkd', known.qkd!),
    ]);
    runs.forEach((run, i) => expectPsk(run, known.psk, `run ${i}`));
  });

  it('psk/27 with only --pqc or --pqc-file it derives the PQC-only PSK', async () => {
    const runs = await Promise.all([derive('--pqc', pqcOnly.pqc!), derive('--pqc-file', file('pqc_only', pqcOnly.pqc!))]);
    runs.forEach((run, i) => expectPsk(run, pqcOnly.psk, `run ${i}`));
  });

  it('psk/28 with only --qkd it prints the raw 32-byte KMS key (QKD-only)', async () => {
    expectPsk(await derive('--qkd', qkdOnly.qkd!), qkdOnly.psk, 'qkd-only');
    expect(qkdOnly.psk === qkdOnly.qkd, 'the QKD-only vector is the KMS key itself').toBe(true);
  });

  it('psk/29 bad input gives one line on stderr, nothing on stdout, exit 2, and no key material', async () => {
    const q = known.qkd!;
    const short = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg=='; // 31 bytes
    const bad: Array<[string, string[], RegExp]> = [
      ['URL-safe base64', ['--qkd', q.replace(/=$/, '').replace(/A/g, '-') + '='], /--qkd is not valid standard base64/],
      ['missing padding', ['--qkd', q.slice(0, -1)], /not a multiple of 4/],
      ['31-byte QKD key', ['--qkd', short, '--pqc', known.pqc!], /QKD key is 31 bytes/],
      ['31-byte KMS key alone', ['--qkd', short], /cannot become a WireGuard PSK/],
      ['both PQC options', ['--qkd', q, '--pqc', known.pqc!, '--pqc-file', file('k', known.pqc!)], /either --pqc or --pqc-file/],
      ['no key', [], /give --qkd, --pqc\/--pqc-file, or both/],
      ['empty PQC file', ['--qkd', q, '--pqc-file', file('empty', '')], /is empty/],
      ['half-written PQC file', ['--qkd', q, '--pqc-file', file('half', known.pqc!.slice(0, 20))], /truncated: 20 of 44/],
      ['PQC file with two LFs', ['--qkd', q, '--pqc-file', file('nl2', `${known.pqc!}\n\n`)], /ends with more than one line ending/],
      ['PQC file with space and LF', ['--qkd', q, '--pqc-file', file('splf', `${known.pqc!} \n`)], /whitespace at offset 44/],
      ['PQC file with LF, then a bad QKD key', ['--qkd', short, '--pqc-file', file('lf-short', `${known.pqc!}\n`)], /QKD key is 31 bytes/],
      ['missing PQC file', ['--qkd', q, '--pqc-file', join(dir, 'nope')], /ENOENT/],
      ['mode needing PQC', ['--mode', 'hybrid', '--qkd', q], /mode hybrid needs a PQC key/],
      ['unknown mode', ['--mode', 'both', '--qkd', q], /--mode must be one of/],
      ['unknown option', ['--qkd', q, '--psk', q], /unknown option '--psk'/],
    ];
    const runs = await Promise.all(bad.map(([, args]) => derive(...args)));
    const secrets = [known.qkd!, known.pqc!, short].map((s) => new Uint8Array(Buffer.from(s, 'base64')));
    runs.forEach((run, i) => {
      const [name, , message] = bad[i]!;
      expect(run.code, name).toBe(2);
      expect(run.stdout === '', `${name}: stdout must stay empty`).toBe(true);
      expect(run.stderr.endsWith('\n') && run.stderr.split('\n').length === 2, `${name}: one line on stderr`).toBe(true);
      expect(run.stderr, name).toMatch(message);
      expect(run.stderr, name).toMatch(/^(qkd-harness|error): /);
      for (const k of secrets) expect(leaksKey(run.stderr, k), `${name}: stderr shows key material`).toBe(false);
    });
  });

  it('psk/33 --pqc-file with one trailing LF or CRLF (as Arnika trims it) prints the known-answer PSK and one warning line without key material', async () => {
    const text = arnikaFile.pqc_file!;
    expect(text.endsWith('\n') && !text.endsWith('\r\n'), 'the vector file ends with LF').toBe(true);
    const runs = await Promise.all([
      derive('--qkd', arnikaFile.qkd!, '--pqc-file', file('arnika-lf', text)),
      derive('--qkd', arnikaFile.qkd!, '--pqc-file', file('arnika-crlf', text.replace(/\n$/, '\r\n'))),
    ]);
    const key = new Uint8Array(Buffer.from(arnikaFile.pqc!, 'base64'));
    runs.forEach((run, i) => {
      const eol = ['LF', 'CRLF'][i]!;
      expect(run.code, `${eol}: exit code (stderr: ${run.stderr})`).toBe(0);
      expect(run.stdout === 'yvaFBYRB3hMbuFfuFUmvRbuTucJ0i/xHpyzhq/dWOnw=\n', `${eol}: stdout is not the known-answer PSK + newline`).toBe(true);
      expect(run.stdout === `${arnikaFile.psk}\n`, `${eol}: stdout is not the vector's PSK`).toBe(true);
      expect(run.stderr, eol).toMatch(new RegExp(`^qkd-harness: warning: PQC key file \\S+ ends with ${eol}: stripped it as Arnika does[^\\n]*\\n$`));
      expect(leaksKey(run.stderr, key), `${eol}: the warning shows key material`).toBe(false);
    });
  });

  it('psk/32 --allow-variable-lengths derives outside 32 + 32 bytes, warns on stderr, keeps stdout to the PSK', async () => {
    const c = cases.find((v) => v.name === 'hybrid 16+32 (variable lengths)')!;
    const run = await derive('--qkd', c.qkd!, '--pqc', c.pqc!, '--allow-variable-lengths');
    expect(run.code).toBe(0);
    expect(run.stdout === `${c.psk}\n`, 'stdout is the PSK + newline').toBe(true);
    expect(run.stderr).toMatch(/^qkd-harness: warning: key lengths outside the separation condition.*\n$/);
    expect((await derive('--qkd', c.qkd!, '--pqc', c.pqc!)).code, 'refused without the option').toBe(2);
  });
});
