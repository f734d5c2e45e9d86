// The answers a KME gives instead of keys (clause 5, Table 3 of each method): 400 with an Error body,
// 401, 503 with an Error body. Nothing else is defined by the standard, so nothing else is produced in
// faithful mode. `kind` lets the deviation layer change one class of answers and leave the others alone.

/** Exact messages the standard gives (ETSI GS QKD 014 V1.1.1 clauses 6.2, 6.4). */
export const MESSAGES = {
  sizeMultiple: 'size shall be a multiple of 8',
  extensionUnsupported: 'not all extension_mandatory parameters are supported',
  extensionUnmet: 'not all extension_mandatory request options could be met',
  extensionOptional: 'not all extension_optional request options handled',
  keysNotFound: 'one or more keys specified are not found on KME',
} as const;

export type ErrorKind =
  | 'format' // malformed input: bad path, method, query, JSON, types, oversized body
  | 'limit' // well-formed but outside the KME's limits (number, size, additional slaves)
  | 'extension' // extension_mandatory / extension_optional refusals
  | 'not-found' // key_IDs not available (unknown, consumed, other master)
  | 'unauthorized' // 401
  | 'exhausted' // 503: not enough key material
  | 'link-down' // 503: the KMS↔KMS link could not confirm a reservation
  | 'internal'; // 503: a bug in the mock, caught

export class KmeError extends Error {
  override name = 'KmeError';
  constructor(
    readonly status: 400 | 401 | 503,
    readonly kind: ErrorKind,
    message: string,
    readonly details?: Array<Record<string, unknown>>,
    /** Close the connection after answering (oversized or unreadable bodies). */
    readonly close = false,
  ) {
    super(message);
  }
}

export const badRequest = (message: string, details?: Array<Record<string, unknown>>): KmeError => new KmeError(400, 'format', message, details);
export const overLimit = (message: string): KmeError => new KmeError(400, 'limit', message);
export const unauthorized = (message: string): KmeError => new KmeError(401, 'unauthorized', message);
export const notFound = (): KmeError => new KmeError(400, 'not-found', MESSAGES.keysNotFound);
