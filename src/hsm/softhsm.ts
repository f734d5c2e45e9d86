// SoftHSM2 (Debian `softhsm2`) as the stand-in for a network HSM: a private configuration and token
// directory per user of it (a test, later a lab site), never the system's /var/lib/softhsm.
// SoftHSM reads SOFTHSM2_CONF at C_Initialize, so a process sees exactly the tokens of the directory its
// environment names — which is how two sites on one machine keep their tokens apart.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CannotRunError } from '../cli/exit.ts';

/** Where distributions install the module (Debian first). */
const MODULE_PATHS = ['/usr/lib/softhsm/libsofthsm2.so', '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so', '/usr/lib64/softhsm/libsofthsm2.so', '/usr/local/lib/softhsm/libsofthsm2.so'];

/** Path of libsofthsm2.so, or undefined when SoftHSM2 is not installed. */
export function softhsmModule(): string | undefined {
  return MODULE_PATHS.find((p) => existsSync(p));
}

/** Why SoftHSM2 cannot be used here (module or softhsm2-util missing), or undefined. */
export function softhsmUnavailable(): string | undefined {
  if (!softhsmModule()) return `SoftHSM2 is not installed (no libsofthsm2.so in ${MODULE_PATHS.join(', ')}; Debian: apt-get install softhsm2)`;
  const r = spawnSync('softhsm2-util', ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error || r.status !== 0) return 'softhsm2-util is not on PATH (Debian: apt-get install softhsm2)';
  return undefined;
}

/** A SoftHSM2 configuration with its own token directory. */
export class SoftHsmStore {
  private constructor(
    /** The directory holding softhsm2.conf and tokens/. */
    readonly dir: string,
  ) {}

  /** softhsm2.conf path: give it to processes as SOFTHSM2_CONF. */
  get conf(): string {
    return join(this.dir, 'softhsm2.conf');
  }

  /** The environment a process needs to see this store's tokens. */
  get env(): Record<string, string> {
    return { SOFTHSM2_CONF: this.conf };
  }

  /** Creates a store in a new directory under `parent` (default: the system temp directory). */
  static create(parent = tmpdir(), prefix = 'qkdh-softhsm-'): SoftHsmStore {
    return SoftHsmStore.at(mkdtempSync(join(parent, prefix)));
  }

  /** Creates a store in `dir` (made if missing, 0700; e.g. a lab site's `<lab dir>/<site>/softhsm`). */
  static at(dir: string): SoftHsmStore {
    mkdirSync(join(dir, 'tokens'), { recursive: true, mode: 0o700 });
    // objectstore.backend=file: one file per object, no SQLite dependency; log to syslog at ERROR only.
    writeFileSync(join(dir, 'softhsm2.conf'), `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`, { mode: 0o600 });
    return new SoftHsmStore(dir);
  }

  /**
   * Initialises a token in the first free slot (`softhsm2-util --init-token --free`). The PINs are on
   * softhsm2-util's command line (it has no other non-interactive way): use throwaway PINs only.
   * @throws CannotRunError with softhsm2-util's message.
   */
  initToken(label: string, userPin: string, soPin = `so-${userPin}`): void {
    const r = spawnSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--pin', userPin, '--so-pin', soPin], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...this.env } });
    if (r.error || r.status !== 0) throw new CannotRunError(`softhsm2-util --init-token --label ${label} failed: ${(r.stderr || r.stdout || String(r.error)).trim().split('\n')[0]}`);
  }

  /** Deletes the directory and every token in it. */
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
