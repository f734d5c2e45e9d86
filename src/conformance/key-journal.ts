// Every key a run received, in memory only (never written, never logged): checks over the whole run —
// key_ID format whatever endpoint or size produced it, key independence — read it. Bounded in count.
// key_IDs (identifiers, not secrets) are also shared through a file between the suite files of one run,
// which vitest runs in separate processes, so the key_ID format check sees every key_ID of the run.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import type { RawResponse } from '../kme/transport.ts';
import { containerKeys } from '../kme/normalize.ts';

export interface JournalKey {
  key_ID: string;
  /** The decoded key bytes (standard or URL-safe Base64 as sent); undefined when `key` was not a string. */
  bytes?: Buffer;
  /** Method, path and query of the answer that delivered it. */
  via: string;
}

const MAX_KEYS = 50_000;

export class KeyJournal {
  private readonly list: JournalKey[] = [];

  /** `idsFile`: JSON lines of {key_ID, via} shared by the run's processes (no key material). */
  constructor(private readonly idsFile?: string) {}

  /** Takes the keys of a 200 enc_keys/dec_keys answer (any container spelling); ignores everything else. */
  add(raw: RawResponse): void {
    // Full: the body is not parsed again (a hostile container of 10⁶ keys would be, on every answer).
    if (this.list.length >= MAX_KEYS || raw.status !== 200 || !/\/(enc|dec)_keys$/.test(new URL(raw.url).pathname)) return;
    const url = new URL(raw.url);
    const via = `${raw.method} ${url.pathname}${url.search}`;
    const lines: string[] = [];
    for (const k of containerKeys(raw.json())) {
      if (this.list.length >= MAX_KEYS) break;
      this.list.push({ key_ID: k.key_ID, ...(k.key !== undefined ? { bytes: Buffer.from(k.key, 'base64') } : {}), via });
      lines.push(JSON.stringify({ key_ID: k.key_ID.slice(0, 200), via }) + '\n');
    }
    if (this.idsFile && lines.length) appendFileSync(this.idsFile, lines.join('')); // one write per answer
  }

  /** Every key_ID of the run — this process's and, with a shared file, the other suite files' — with where it came from. */
  keyIds(): Array<{ key_ID: string; via: string }> {
    const out = new Map(this.list.map((k) => [k.key_ID, k.via]));
    if (this.idsFile && existsSync(this.idsFile)) {
      for (const line of readFileSync(this.idsFile, 'utf8').split('\n')) {
        if (!line) continue;
        const k = JSON.parse(line) as { key_ID: string; via: string };
        if (!out.has(k.key_ID)) out.set(k.key_ID, k.via);
      }
    }
    return [...out].map(([key_ID, via]) => ({ key_ID, via }));
  }

  all(): readonly JournalKey[] {
    return this.list;
  }
}
