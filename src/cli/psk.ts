// `qkd-harness psk derive`: the WireGuard PSK for given inputs, as Arnika derives it.
// stdout carries the PSK and nothing else (so it can be piped to `wg set … preshared-key /dev/stdin`).
import type { Command } from 'commander';
import { PSK_MODES, PskInputError, decodeBase64Strict, derivePsk, readPqcKeyFile, type PskMode } from '../psk/index.ts';
import { UsageError } from './exit.ts';

interface DeriveOptions {
  qkd?: string;
  pqc?: string;
  pqcFile?: string;
  mode?: string;
  allowVariableLengths?: boolean;
}

export function register(program: Command): void {
  const psk = program.command('psk').description('WireGuard pre-shared keys from QKD and PQC keys, as Arnika derives them');
  psk
    .command('derive')
    .description('print the WireGuard PSK (base64): HKDF-SHA3-256(QKD ‖ PQC), the raw QKD key alone, or HKDF-SHA3-256(PQC) alone')
    .option('--qkd <base64>', 'KMS key as the KME returned it (standard base64 of 32 bytes)')
    .option('--pqc <base64>', 'PQC key (standard base64 of 32 bytes)')
    .option('--pqc-file <file>', 'Rosenpass key_out file (base64 of 32 bytes; one trailing LF or CRLF is stripped with a warning, as Arnika trims it)')
    .option('--mode <mode>', `${PSK_MODES.join(' | ')} (default: from the keys given)`)
    .option('--allow-variable-lengths', 'accept keys of other lengths than 32 bytes (inputs may then collide; warns on stderr)')
    .showHelpAfterError(false) // keep parse errors to one line on stderr
    .action((opts: DeriveOptions) => {
      try {
        derive(opts);
      } catch (err) {
        throw err instanceof PskInputError ? new UsageError(err.message) : err;
      }
    });
}

function derive(opts: DeriveOptions): void {
  if (opts.pqc !== undefined && opts.pqcFile !== undefined) throw new UsageError('give either --pqc or --pqc-file, not both');
  if (opts.mode !== undefined && !(PSK_MODES as readonly string[]).includes(opts.mode)) {
    throw new UsageError(`--mode must be one of ${PSK_MODES.join(', ')}`);
  }
  const options = { allowVariableLengths: opts.allowVariableLengths === true };
  const qkd = opts.qkd === undefined ? undefined : decodeBase64Strict(opts.qkd, '--qkd');
  // Warnings wait for a successful derivation: bad input stays one line on stderr.
  const warnings: string[] = [];
  const pqc =
    opts.pqc !== undefined ? decodeBase64Strict(opts.pqc, '--pqc') : opts.pqcFile !== undefined ? readPqcKeyFile(opts.pqcFile, { ...options, onWarning: (m) => warnings.push(m) }) : undefined;
  if (qkd === undefined && pqc === undefined) throw new UsageError('give --qkd, --pqc/--pqc-file, or both');
  const result = derivePsk({ qkd, pqc, mode: opts.mode as PskMode | undefined }, options);
  if (!result.separated) warnings.push('key lengths outside the separation condition (32 + 32 bytes): other inputs can give the same PSK');
  for (const w of warnings) process.stderr.write(`qkd-harness: warning: ${w}\n`);
  process.stdout.write(`${result.base64}\n`);
}
