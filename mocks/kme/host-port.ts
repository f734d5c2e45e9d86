// `HOST:PORT` addresses (`[v6]:PORT` for IPv6): one parser for the CLI flags, the configuration and the
// KMS↔KMS link, and one formatter for URLs and link addresses.
import { isIP } from 'node:net';

export interface HostPort {
  host: string;
  port: number;
}

/** Parses `HOST:PORT`; throws a readable error naming `what`. */
export function parseHostPort(text: string, what: string): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`${what} must be HOST:PORT (e.g. 127.0.0.1:9000 or [::1]:9000), got "${text}"`);
  return { host: (m[1] ?? m[2])!, port };
}

export const formatHostPort = (a: HostPort): string => (isIP(a.host) === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`);

/** Whether `text` parses as HOST:PORT. */
export function isHostPort(text: string): boolean {
  try {
    parseHostPort(text, '');
    return true;
  } catch {
    return false;
  }
}
