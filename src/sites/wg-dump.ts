// `wg show <if> dump` parsed into what the suites need, with every secret hashed at once: the private
// key is dropped, the PSK becomes its fingerprint. Nothing here keeps or prints the raw output.
import { fingerprint, fingerprintBase64 } from '../secrets/fingerprint.ts';

export const NO_PSK = '(none)';

export interface WgPeerState {
  publicKey: string;
  /** `sha256:` + 8 hex of the configured PSK, or `(none)`. */
  pskFingerprint: string;
  endpoint: string | null;
  allowedIps: string[];
  /** Unix seconds of the latest completed handshake; 0 = never. */
  latestHandshake: number;
  rx: number;
  tx: number;
  keepalive: number | null;
}

export interface WgInterfaceState {
  publicKey: string;
  listenPort: number;
  peers: WgPeerState[];
}

export class WgDumpError extends Error {
  override name = 'WgDumpError';
}

const B64_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

/** Fingerprint of a base64 PSK as `wg` prints it (the decoded 32 bytes), or `(none)`. */
function pskPrint(field: string): string {
  if (field === NO_PSK) return NO_PSK;
  if (!B64_KEY.test(field)) throw new WgDumpError(`a preshared-key field is not a base64 key (${field.length} characters, ${fingerprint(field)})`);
  return fingerprintBase64(field);
}

function int(field: string, what: string): number {
  if (!/^\d+$/.test(field)) throw new WgDumpError(`${what} is not a number`);
  return Number(field);
}

/** Parses `wg show <if> dump` (one interface). Errors never quote key fields. */
export function parseWgDump(text: string): WgInterfaceState {
  const lines = text.split('\n').filter((l) => l.length > 0);
  const head = lines[0]?.split('\t');
  if (!head || head.length !== 4) throw new WgDumpError(`the first line has ${head?.length ?? 0} fields, \`wg show <if> dump\` prints 4 (private key, public key, port, fwmark)`);
  const state: WgInterfaceState = { publicKey: head[1]!, listenPort: int(head[2]!, 'listen port'), peers: [] };
  head.length = 0; // drop our reference to the private key field
  for (const [i, line] of lines.slice(1).entries()) {
    const f = line.split('\t');
    if (f.length !== 8) throw new WgDumpError(`peer line ${i + 1} has ${f.length} fields, expected 8`);
    state.peers.push({
      publicKey: f[0]!,
      pskFingerprint: pskPrint(f[1]!),
      endpoint: f[2] === NO_PSK ? null : f[2]!,
      allowedIps: f[3] === NO_PSK ? [] : f[3]!.split(','),
      latestHandshake: int(f[4]!, 'latest handshake'),
      rx: int(f[5]!, 'rx bytes'),
      tx: int(f[6]!, 'tx bytes'),
      keepalive: f[7] === 'off' ? null : int(f[7]!, 'persistent keepalive'),
    });
  }
  return state;
}
