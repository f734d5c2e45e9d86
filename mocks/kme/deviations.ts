// The field deviations the mock KME can be switched into (etsi-qkd-014.md, "What field implementations
// commonly do differently", and more). The conformance suite must detect every one of them: the kill
// matrix (docs/kill-matrix.md) proves it. Names are stable: they appear in CLI flags and expectations.
export const DEVIATIONS = {
  '404-instead-of-400': 'answers 404 where the standard requires 400 (bad requests, unknown or consumed key_IDs)',
  'keys-not-removed': 'does not remove delivered keys: dec_keys can be replayed and enc_keys can hand out a key again',
  'extensions-ignored': 'silently ignores extension_mandatory instead of rejecting unsupported ones',
  'get-query-ignored': 'ignores number and size in GET enc_keys query strings (always one key of the default size)',
  'odd-sizes-rounded-down': 'serves sizes that are not a multiple of 8 rounded down to whole bytes instead of the requested size or the standard message',
  'detail-errors': 'error bodies are {"detail": …} instead of {"message": …}',
  'html-on-401': '401 answers carry an HTML page with text/html',
  'status-sae-ids-swapped': 'Status has master_SAE_ID and slave_SAE_ID swapped',
  'plain-http': 'serves plain HTTP without TLS',
  'any-client-cert': 'accepts any client certificate (and none), taking the SAE ID from a header or defaulting to the first registered SAE',
  'wrong-dec-key-bytes': 'dec_keys returns different key bytes than enc_keys delivered at the peer KME',
  'repeated-key-ids': 'reuses key_IDs across enc_keys responses',
  'slow-answers': 'answers every request after a long delay (beyond a client deadline)',
  'truncated-json': 'sends key containers cut off in the middle of the JSON',
  '500-on-bad-input': 'answers 500 (with a stack trace) to malformed input instead of 400',
  'constant-status': 'Status counts never move (stored_key_count is a constant)',
  'keys-capitalised': 'key containers use "Keys" instead of "keys"',
  'no-json-content-type': 'JSON answers are sent as text/plain',
  'dec-keys-unauthorised': 'dec_keys hands keys to any SAE, not only the slaves named at enc_keys',
  'non-uuid-key-ids': 'key_IDs are not in UUID format',
  'url-safe-base64': 'keys are Base64url without padding instead of standard padded Base64',
  'only-256-bits': 'serves only number=1 and size=256; anything else is refused with 400',
  'exhaustion-404': 'answers 404 instead of 503 (or 400) when the key pool is exhausted',
  'tls-1.1-accepted': 'accepts TLS 1.1 connections (the standard requires TLS 1.2 or higher)',
  'tls-1.3-only': 'refuses TLS 1.2 (clients in the field, e.g. key-control daemons, may offer only TLS 1.2)',
  'kme-cert-mismatch': 'presents a certificate for another host and KME ID',
  'status-incomplete': 'Status lacks the required max_SAE_ID_count',
  'status-kme-ids-swapped': 'Status has source_KME_ID and target_KME_ID swapped',
  'status-inconsistent': 'Status reports a key_size above max_key_size',
} as const;

export type DeviationName = keyof typeof DEVIATIONS;

export const DEVIATION_NAMES = Object.keys(DEVIATIONS) as DeviationName[];

export function isDeviation(name: string): name is DeviationName {
  return Object.hasOwn(DEVIATIONS, name);
}
