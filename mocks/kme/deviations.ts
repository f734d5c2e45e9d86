// The field deviations the mock KME can be switched into (what open-source KMEs and hosted simulators
// commonly do differently, and more). The conformance suite must detect every one of them: the kill
// matrix (docs/kill-matrix.md) proves it. Names are stable: they appear in CLI flags and expectations.
export const DEVIATIONS = {
  'status-bad-member': 'Status is faithful except target_KME_ID, which is the integer 0 (one invalid member)',
  'null-optional-members': 'optional members are sent as JSON null (status_extension, key_container_extension, key_ID_extension, key_extension, and details in Error bodies)',
  'status-count-random': 'Status stored_key_count is a fresh random integer in [0, max_key_count] on every call',
  'invalid-utf8': 'key containers carry a key_container_extension string with invalid UTF-8 bytes (0xC3 0x28)',
  'key-member-renamed': 'key container entries carry the key material under "key_value" instead of "key"',
  'drop-uncollected-keys': "a master's new enc_keys discards, at the slave's KME, the keys of its earlier calls the slave has not collected yet",
  'key-from-key-id': 'key bytes are SHA-256 of the key_ID (chained for longer keys): derivable from public data',
  'key-prefix-extended': 'keys longer than 256 bits are 32 random bytes followed by a SHA-256 chain over them',
  'key-chained': 'each key is SHA-256 (chained to its length) of the key of the same size before it in the lane',
  'biased-keys': 'key bits are about 75 % ones (a monobit frequency test fails)',
  'non-uuid-key-ids-large': 'key_IDs are not UUIDs for keys of a non-default size and in requests of more than one key',
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
  'unauthenticated-served-oversized': 'serves clients without a certificate or with an untrusted one: a 200 head, then a body far larger than any client cap',
  'unauthenticated-served-reset': 'serves clients without a certificate or with an untrusted one: a 200 head and part of a body, then the connection is reset',
  'dec-keys-ignores-master': 'dec_keys ignores the master SAE ID of its path: a slave naming a wrong master gets (and consumes) the keys',
  'master-can-redeem': 'the master SAE can redeem its own key with dec_keys at its own KME (and consumes it there)',
  'unknown-slave-served': 'enc_keys and Status naming a slave SAE the KME does not know are served',
  'stall-body': 'key endpoints send a 200 head, then trickle the body one byte a second without end',
  'lying-content-length': 'key endpoints declare a Content-Length larger than the body they send, then leave the connection idle',
  'slow-headers': 'key endpoints write the response head one byte every 2 seconds',
} as const;

export type DeviationName = keyof typeof DEVIATIONS;

export const DEVIATION_NAMES = Object.keys(DEVIATIONS) as DeviationName[];

export function isDeviation(name: string): name is DeviationName {
  return Object.hasOwn(DEVIATIONS, name);
}
