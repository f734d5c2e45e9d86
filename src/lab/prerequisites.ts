// What the lab needs from the host. Suites skip with the first missing item as the reason (and fail
// instead when QKD_REQUIRE_LAB=1); `lab up` exits 3 with it.
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** True when `bin` is an executable in PATH (or /usr/sbin, /sbin, where root tools live). */
export function onPath(bin: string): boolean {
  return (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin')
    .split(delimiter)
    .concat(['/usr/sbin', '/sbin'])
    .some((d) => {
      try {
        accessSync(join(d, bin), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
}

/** Why the lab cannot run here, or undefined when it can. */
export function labUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `the lab needs Linux network namespaces (this is ${process.platform})`;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'the lab needs root (network namespaces, /dev/net/tun)';
  if (!existsSync('/dev/net/tun')) return '/dev/net/tun is missing (wireguard-go needs a TUN device)';
  for (const bin of ['ip', 'wg', 'wireguard-go']) {
    if (!onPath(bin)) return `${bin} is not installed (Debian: ${bin === 'ip' ? 'iproute2' : bin === 'wg' ? 'wireguard-tools' : 'wireguard-go'}; see .ci/apt-packages)`;
  }
  return undefined;
}
