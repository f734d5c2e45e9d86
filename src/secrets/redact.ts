// Redaction of key material in anything that may reach a log, a report or an error message.
//
// A KME may put key material under any name (`key`, `key_value`, `Key`, an object, a byte array), so a
// key-container entry (ETSI GS QKD 014 clause 6.3: the items of `keys`) is masked whole except its public
// identifiers; elsewhere the well-known secret member names are masked. Both rules err on the side of
// masking: a key ID shown masked costs a little evidence, a key shown costs the key.
import { fingerprint, fingerprintBase64 } from './fingerprint.ts';

/** Members that carry key material in ETSI 014 bodies and `wg` output, wherever they appear. */
const SECRET_MEMBERS = new Set(['key', 'preshared_key', 'private_key', 'psk']);

/** The only members of a key-container entry that stay visible: identifiers, not secrets (clause 6.3). */
const PUBLIC_ENTRY_MEMBERS = new Set(['key_ID', 'key_ID_extension']);

/** The key container's array member, in any case (`keys`, `Keys`, `KEYS`…). */
const isContainerMember = (name: string): boolean => name.toLowerCase() === 'keys';

/** `<redacted sha256:…>`: base64 strings are hashed as the bytes they encode, anything else as its JSON. */
function masked(value: unknown): string {
  if (typeof value === 'string') return `<redacted ${fingerprintBase64(value)}>`;
  return `<redacted ${Array.isArray(value) ? 'array' : typeof value} ${fingerprint(JSON.stringify(value) ?? '')}>`;
}

/** Null carries nothing; every other value of a secret position is replaced. */
const mask = (value: unknown): unknown => (value === null ? null : masked(value));

/** A key-container entry: every member but the identifiers masked; an entry that is not an object, masked whole. */
function redactEntry(entry: unknown): unknown {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return mask(entry);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(entry)) out[k] = PUBLIC_ENTRY_MEMBERS.has(k) ? redactJson(v) : mask(v);
  return out;
}

/**
 * Deep copy of a parsed JSON value with key material replaced by fingerprints: every item of a `keys`
 * member (any case; an object there counts as one entry), every object carrying a `key_ID` member (an
 * entry outside a container), and every secret member (`key`, `psk`…) anywhere.
 */
export function redactJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactJson);
  if (value !== null && typeof value === 'object') {
    if (Object.hasOwn(value, 'key_ID')) return redactEntry(value);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (isContainerMember(k)) out[k] = Array.isArray(v) ? v.map(redactEntry) : redactEntry(v);
      else out[k] = SECRET_MEMBERS.has(k.toLowerCase()) ? mask(v) : redactJson(v);
    }
    return out;
  }
  return value;
}

/** A string literal (its content; the closing quote absent when cut off), a bare token (number, literal, junk) or one other character. */
const TOKEN = /"((?:[^"\\]|\\[\s\S])*)(")?|[^\s"{}[\]:,]+|[\s\S]/g;
/** Text that holds, or starts, a key container or an entry: then every value but a key_ID is masked. */
const ENTRY_HINT = /"keys"\s*:|"key_ID"\s*:/i;
const MEMBER_NAME = /\s*:/y;
const LITERAL = /^(true|false|null)$/;

/**
 * Pattern fallback for text that is not JSON (cut off, invalid, another format): member names stay;
 * values of secret members are masked; and if the text shows a key container or an entry anywhere,
 * every string value except a `key_ID`'s and every bare token other than true/false/null is masked,
 * because the structure around a cut-off container cannot be trusted.
 */
function redactLoose(text: string): string {
  const everything = ENTRY_HINT.test(text);
  let name: string | undefined; // the member whose value comes next
  const secretValue = (): boolean => (everything ? name !== 'key_ID' : name !== undefined && SECRET_MEMBERS.has(name.toLowerCase()));
  return text.replace(TOKEN, (tok: string, inner: string | undefined, quote: string | undefined, offset: number) => {
    if (inner !== undefined) {
      MEMBER_NAME.lastIndex = offset + tok.length;
      if (quote && MEMBER_NAME.test(text)) {
        name = inner;
        return tok;
      }
      const secret = secretValue();
      name = undefined;
      return secret ? `"${masked(inner)}${quote ?? ''}` : tok;
    }
    if (/^[\s:]$/.test(tok)) return tok;
    if (/^[{}[\],]$/.test(tok)) {
      name = undefined;
      return tok;
    }
    // A bare token: a number, a literal, or junk of an invalid body.
    const secret = secretValue() && !LITERAL.test(tok);
    name = undefined;
    return secret ? '<redacted>' : tok;
  });
}

/**
 * Redacts a response body given as text, then caps it at `limit` characters: JSON is parsed and redacted
 * structurally (redactJson); anything else goes through the pattern fallback, so even a cut-off key
 * container never leaks a key.
 */
export function redactText(text: string, limit = 4096): string {
  let out: string;
  try {
    out = JSON.stringify(redactJson(JSON.parse(text)));
  } catch {
    out = redactLoose(text);
  }
  return out.length > limit ? `${out.slice(0, limit)}… (${out.length - limit} more characters)` : out;
}
