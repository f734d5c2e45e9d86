// Maps a request line to one of the three methods of Table 2 (clause 5): the path carries an SAE ID
// (URL-encoded) and the method name; anything else is a bad request (the standard defines no 404/405).
import { CURRENT } from '../../src/kme/version.ts';
import { badRequest } from './errors.ts';

export type Operation = 'status' | 'enc_keys' | 'dec_keys';

export interface Route {
  op: Operation;
  /** Decoded SAE ID of the path: the slave for status/enc_keys, the master for dec_keys. */
  saeId: string;
  method: 'GET' | 'POST';
  query: URLSearchParams;
}

const ALLOWED: Record<Operation, readonly string[]> = { status: ['GET'], enc_keys: ['GET', 'POST'], dec_keys: ['GET', 'POST'] };
const PREFIX = `${CURRENT.basePath}/`;

export function route(method: string | undefined, rawUrl: string | undefined): Route {
  let url = rawUrl ?? '';
  const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(url); // absolute-form request targets
  if (absolute) url = url.slice(absolute[0].length) || '/';
  const q = url.indexOf('?');
  const path = q >= 0 ? url.slice(0, q) : url;
  const query = q >= 0 ? url.slice(q + 1) : '';
  const m = path.startsWith(PREFIX) ? /^([^/]+)\/(status|enc_keys|dec_keys)$/.exec(path.slice(PREFIX.length)) : null;
  if (!m) throw badRequest(`no ETSI GS QKD 014 method at this path; use ${PREFIX}{SAE_ID}/status, /enc_keys or /dec_keys`);
  const op = m[2] as Operation;
  let saeId: string;
  try {
    saeId = decodeURIComponent(m[1]!);
  } catch {
    throw badRequest('the SAE ID in the path is not validly URL-encoded');
  }
  if (!ALLOWED[op].includes(method ?? '')) throw badRequest(`${op} is called with ${ALLOWED[op].join(' or ')}, not ${String(method).slice(0, 20)}`);
  return { op, saeId, method: method as 'GET' | 'POST', query: new URLSearchParams(query) };
}
