// Redaction of key material in anything that may reach a log, a report or an error message.
import { fingerprintBase64 } from './fingerprint.ts';

/** Members that carry key material in ETSI 014 bodies and `wg` output. */
const SECRET_MEMBERS = new Set(['key', 'preshared_key', 'private_key', 'psk']);

/** Deep copy of a parsed JSON value with every secret member replaced by its fingerprint. */
export function redactJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactJson);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = SECRET_MEMBERS.has(k.toLowerCase()) && typeof v === 'string' ? `<redacted ${fingerprintBase64(v)}>` : redactJson(v);
    }
    return out;
  }
  return value;
}

/**
 * Redacts a response body given as text: JSON is parsed and redacted structurally; anything else has
 * `"key": "…"` pairs masked by pattern, so even truncated JSON never leaks a key.
 */
export function redactText(text: string, limit = 4096): string {
  let out: string;
  try {
    out = JSON.stringify(redactJson(JSON.parse(text)));
  } catch {
    out = text.replace(/("(?:key|preshared_key|private_key|psk)"\s*:\s*")([^"]*)"?/gi, (_m, pre: string, v: string) => `${pre}<redacted ${fingerprintBase64(v)}>"`);
  }
  return out.length > limit ? `${out.slice(0, limit)}… (${out.length - limit} more characters)` : out;
}
