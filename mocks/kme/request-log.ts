// One stderr line per request: KME, method, path, status, SAE, duration, and for delivered keys their
// key_IDs with a SHA-256 fingerprint of the key bytes — never the bytes (README, "Secrets"). Every line
// (requests, TLS refusals, the KMS link) gets its timestamp in one place: the sink made by `timestamped`.
import { fingerprint } from '../../src/secrets/fingerprint.ts';
import type { DeliveredKey } from './respond.ts';

export type LogSink = (line: string) => void;

export const stderrLog: LogSink = (line) => {
  process.stderr.write(`${line}\n`);
};

export const silentLog: LogSink = () => undefined;

/** The sink with an ISO-8601 time before every line (the silent sink stays silent, and recognisable). */
export function timestamped(sink: LogSink): LogSink {
  return sink === silentLog ? silentLog : (line) => sink(`${new Date().toISOString()} ${line}`);
}

/** Printable, bounded text from anything a client put in a request line. */
export function printable(text: string, max = 200): string {
  const clean = text.replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0').slice(-2)}`);
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

export function requestLine(o: { kmeId: string; method?: string; url?: string; status: number | string; sae?: string; ms: number; keys?: DeliveredKey[] }): string {
  const keys = o.keys?.length ? ` keys=${o.keys.slice(0, 4).map((k) => `${printable(k.key_ID, 64)}:${fingerprint(k.key)}`).join(',')}${o.keys.length > 4 ? `,+${o.keys.length - 4}` : ''}` : '';
  return `${o.kmeId} ${printable(o.method ?? '?', 16)} ${printable(o.url ?? '?')} ${o.status} sae=${o.sae ? printable(o.sae, 64) : '-'} ${o.ms.toFixed(1)}ms${keys}`;
}
