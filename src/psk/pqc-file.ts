// Rosenpass `key_out` files: standard padded base64 of 32 bytes (44 characters), no trailing newline,
// written by truncate-then-write — so a reader can see an empty or half-written file.
// Arnika trims the file it reads, and its own CI writes key files with one trailing newline, so one LF or
// CRLF is stripped here (with a warning); this is the one reader for the CLI, the lab agent and wg/4.
import { readFileSync } from 'node:fs';
import { fingerprint } from '../secrets/fingerprint.ts';
import { base64Problem, decodeBase64Strict } from './base64.ts';
import { PskInputError } from './errors.ts';
import { KEY_BYTES, type LengthOptions } from './separation.ts';

/** Length of a Rosenpass key file: base64 of 32 bytes. */
export const ROSENPASS_FILE_CHARS = 44;

export interface PqcFileOptions extends LengthOptions {
  /** Called (once, only when the key is accepted) with a message without key material when the file
   * ended in a line ending that was stripped: Rosenpass writes none, so the file came from elsewhere. */
  onWarning?: (message: string) => void;
}

/**
 * Parses key file content into the key bytes (32 unless `allowVariableLengths`). Exactly one trailing LF
 * or CRLF is stripped, as Arnika does; anything else around the key is refused: a second line ending or
 * other whitespace means the file is not a key file, and a short file is most likely a read racing
 * Rosenpass's truncate-then-write. Throws `PskInputError` (lengths and fingerprints only).
 */
export function parsePqcKeyFile(content: string | Uint8Array, label = 'PQC key file', options: PqcFileOptions = {}): Uint8Array {
  // latin1 maps every byte to one character, so non-ASCII bytes fail the alphabet check below.
  const raw = typeof content === 'string' ? content : Buffer.from(content).toString('latin1');
  const ending = /\r\n$/.test(raw) ? 'CRLF' : raw.endsWith('\n') ? 'LF' : undefined;
  const text = ending === undefined ? raw : raw.slice(0, ending === 'CRLF' ? -2 : -1);
  const where = `${label} (${raw.length} characters, ${fingerprint(raw)})`;
  if (raw.length === 0) {
    throw new PskInputError(`${label} is empty: Rosenpass truncates before writing, so it was probably read mid-write or no key was exchanged yet`);
  }
  if (text.length === 0) throw new PskInputError(`${where} holds only a line ending, no key`);
  if (ending !== undefined && /[\r\n]$/.test(text)) {
    throw new PskInputError(`${where} ends with more than one line ending: only one LF or CRLF is stripped (Rosenpass writes none)`);
  }
  const strict = !options.allowVariableLengths;
  if (strict && text.length < ROSENPASS_FILE_CHARS && /^[A-Za-z0-9+/=]*$/.test(text)) {
    throw new PskInputError(`${where} is truncated: ${text.length} of ${ROSENPASS_FILE_CHARS} characters, probably half-written by Rosenpass`);
  }
  if (strict && text.length > ROSENPASS_FILE_CHARS && base64Problem(text) === undefined) {
    throw new PskInputError(`${where} is too long: ${text.length} characters, a Rosenpass key file has ${ROSENPASS_FILE_CHARS} (${KEY_BYTES} bytes)`);
  }
  const key = decodeBase64Strict(text, label);
  if (key.length === 0) throw new PskInputError(`${label} holds no key`);
  if (strict && key.length !== KEY_BYTES) throw new PskInputError(`${where} decodes to ${key.length} bytes, a Rosenpass key has ${KEY_BYTES}`);
  if (ending !== undefined) {
    options.onWarning?.(`${label} ends with ${ending}: stripped it as Arnika does (key ${fingerprint(key)}); Rosenpass writes no line ending`);
  }
  return key;
}

/** Reads and parses a Rosenpass-style key file (rules of `parsePqcKeyFile`); unreadable files are input errors too. */
export function readPqcKeyFile(path: string, options: PqcFileOptions = {}): Uint8Array {
  let content: Buffer;
  try {
    content = readFileSync(path);
  } catch (err) {
    throw new PskInputError(`cannot read PQC key file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return parsePqcKeyFile(content, `PQC key file ${path}`, options);
}
