// The run's key journal under a hostile container (suites/hostile): bounded in count, and once full it
// no longer parses answers (a KME sending 10⁶ keys per answer cost a full parse and one file write per
// key on every answer before).
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RawResponse } from '../kme/transport.ts';
import { KeyJournal } from './key-journal.ts';

function container(n: number, from = 0): { raw: RawResponse; parses: () => number } {
  const keys = Array.from({ length: n }, (_, i) => ({ key_ID: `id-${from + i}`, key: 'AAAAAAAAAAAAAAAAAAAAAA==' }));
  let parses = 0;
  const body = Buffer.from(JSON.stringify({ keys }));
  const raw = {
    method: 'GET',
    url: 'https://kme-a:8443/api/v1/keys/SAE_B/enc_keys?number=1',
    requestHeaders: {},
    status: 200,
    headers: {},
    body,
    elapsedMs: 1,
    text: () => body.toString('utf8'),
    json: () => (parses++, JSON.parse(body.toString('utf8')) as unknown),
  } satisfies RawResponse;
  return { raw, parses: () => parses };
}

describe('key journal', () => {
  it('keeps at most 50,000 keys, writes their key_IDs in one append per answer, and parses nothing once full', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'qkd-journal-')), 'key-ids.jsonl');
    const journal = new KeyJournal(file);
    journal.add(container(60_000).raw);
    expect(journal.all()).toHaveLength(50_000);
    expect(readFileSync(file, 'utf8').trimEnd().split('\n')).toHaveLength(50_000);
    const later = container(10, 60_000);
    journal.add(later.raw);
    expect(later.parses()).toBe(0);
    expect(journal.all()).toHaveLength(50_000);
  });

  it('takes the keys of several answers until full (no key material in the shared file)', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'qkd-journal-')), 'key-ids.jsonl');
    const journal = new KeyJournal(file);
    journal.add(container(3).raw);
    journal.add(container(2, 3).raw);
    expect(journal.keyIds().map((k) => k.key_ID)).toEqual(['id-0', 'id-1', 'id-2', 'id-3', 'id-4']);
    expect(readFileSync(file, 'utf8')).not.toContain('AAAA');
  });
});
