// Rosenpass `key_out` files: standard padded base64 of 32 bytes (44 characters), no trailing newline,
// written by truncate-then-write — so a reader can see an empty or half-written file (key-control.md).
import { readFileSync } from 'node:fs';
import { fingerprint } from '../secrets/fingerprint.ts';
import { base64Problem, decodeBase64Strict } from './base64.ts';
import { PskInputError } from './errors.ts';
import { KEY_BYTES, type LengthOptions } from './separation.ts';

/** Length of a Rosenpass key file: base64 of 32 bytes. */
export const ROSENPASS_FILE_CHARS = 44;

/**
 * Parses key file content. Strict on purpose: a trailing newline means the file was not written by
 * Rosenpass (a lenient decoder, e.g. Go's encoding/base64, would skip it; we name it instead), and a short
 * file is most likely a read racing Rosenpass's truncate-then-write.
 */
export function parsePqcKeyFile(content: string | Uint8Array, label = 'PQC key file', options: LengthOptions = {}): Uint8Array {
  // latin1 maps every byte to one character, so non-ASCII bytes fail the alphabet check below.
  const text = typeof content === 'string' ? content : Buffer.from(content).toString('latin1');
  const where = `${label} (${text.length} characters, ${fingerprint(text)})`;
  if (text.length === 0) {
    throw new PskInputError(`${label} is empty: Rosenpass truncates before writing, so it was probably read mid-write or no key was exchanged yet`);
  }
  if (/\r?\n$/.test(text)) {
    throw new PskInputError(`${where} ends with a newline: Rosenpass writes none, so this file was not written by Rosenpass (write it with printf '%s', not echo)`);
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
  return key;
}

/** Reads and parses a Rosenpass-style key file; unreadable files are input errors too. */
export function readPqcKeyFile(path: string, options: LengthOptions = {}): Uint8Array {
  let content: Buffer;
  try {
    content = readFileSync(path);
  } catch (err) {
    throw new PskInputError(`cannot read PQC key file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return parsePqcKeyFile(content, `PQC key file ${path}`, options);
}
