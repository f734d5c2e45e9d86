// `qkd-harness hsm`: the operations of the reference deployment's demo app on a PKCS#11 token — slots,
// tokens, objects, generate, encrypt, decrypt, sign, verify, destroy — and `compare`, the two-token
// check after replication (docs/hsm.md).
//
// Each operation runs in a child process under --timeout-ms (src/hsm/runner.ts): a module that stops
// answering (a network HSM behind a cut link) ends the command with exit 3 and the name of the
// PKCS#11 function it hung in, never a hang. The harness itself calls this command as a child process
// with its own deadline on top (for a remote site, through the site's command prefix, with --json and
// --pin-stdin).
//
// Data: --in/--out name files (raw bytes); without them stdin/stdout carry base64. Ciphertexts and
// signatures are not secret; plaintexts are the user's and go only where the user sends them. PINs
// come from the environment, --pin-stdin or a prompt (src/hsm/pin.ts), never from a flag.
import { readFileSync, writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { resolveAddress, type AddressOptions, type HsmAddress } from '../hsm/address.ts';
import { AES_MODES, OAEP_HASHES, type AesMode, type OaepHash } from '../hsm/cipher.ts';
import { compareInventories } from '../hsm/compare.ts';
import type { Inventory } from '../hsm/inventory.ts';
import { KEY_KINDS, type KeyKind } from '../hsm/keygen.ts';
import { CLASS_NAMES } from '../hsm/attributes.ts';
import { needsLogin, type HsmRequest, type HsmResult } from '../hsm/operations.ts';
import { obtainPin, readAll, readStdinPin } from '../hsm/pin.ts';
import { runHsm } from '../hsm/runner.ts';
import { base64Problem } from '../psk/base64.ts';
import { EXIT, UsageError } from './exit.ts';
import { formatComparison, formatResult } from './hsm-output.ts';

interface CommonOptions extends AddressOptions {
  timeoutMs: string;
  json?: boolean;
  pinStdin?: boolean;
}
interface KeyOptions extends CommonOptions {
  label?: string;
  id?: string;
}
interface DataOptions extends KeyOptions {
  in: string;
  out?: string;
  signature?: string;
  oaepHash: string;
  aesMode: string;
}

const DEFAULT_TIMEOUT_MS = '30000';
const PIN_REFUSAL = 'PINs are not taken from the command line (other users can read it): set QKD_HSM_PIN (or QKD_HSM_PIN_<SITE>), pass it with --pin-stdin, or enter it at the prompt';

function timeout(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 100 || n > 3_600_000) throw new UsageError(`--timeout-ms must be an integer from 100 to 3600000, got "${v}"`);
  return n;
}

/** Options every token command has. The hidden --pin exists only to refuse, without echoing its value. */
function common(c: Command, needToken = true): Command {
  return c
    .option('--module <path>', 'PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so; Luna: libCryptoki2_64.so)')
    .option('--token <label>', needToken ? 'token label' : 'only this token')
    .option('--slot <id>', 'slot ID instead of (or with) the label')
    .option('--target <file>', 'target profile: use sites.<site>.hsm {module, token, pin}')
    .option('--site <name>', 'site of the target profile; without --target: alice|bob of the running lab')
    .option('--run-id <id>', 'the lab whose site --site names, when several run')
    .option('--timeout-ms <ms>', 'deadline of the PKCS#11 work; exit 3 when the module does not answer', DEFAULT_TIMEOUT_MS)
    .option('--pin-stdin', 'read the PIN from the first line of stdin (the rest of stdin is the input data)')
    .option('--json', 'machine-readable output')
    .addOption(
      new Option('--pin <pin>').hideHelp().argParser(() => {
        throw new UsageError(PIN_REFUSAL);
      }),
    )
    .showHelpAfterError(false);
}

function keyOptions(c: Command): Command {
  return c.option('--label <label>', 'CKA_LABEL of the key').option('--id <hex>', 'CKA_ID of the key (hex)');
}

function dataOptions(c: Command, withCipher: boolean): Command {
  c.option('--in <file>', 'input file (raw bytes); - reads base64 from stdin', '-').option('--out <file>', 'output file (raw bytes); default: base64 on stdout');
  if (withCipher) {
    c.option('--oaep-hash <hash>', `RSA-OAEP hash and MGF1 (${OAEP_HASHES.join(', ')}); both sides must agree`, 'sha1').option('--aes-mode <mode>', `${AES_MODES.join(', ')} (auto: GCM when the token has it, else CBC-PAD); both sides must agree`, 'auto');
  }
  return c;
}

function oneOf<T extends string>(v: string, allowed: readonly T[], flag: string): T {
  if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`${flag} must be one of ${allowed.join(', ')}, got "${v}"`);
  return v as T;
}

/** Stdin is read at most once: the PIN line (--pin-stdin) and/or the base64 input. */
class Stdin {
  private data: Buffer | undefined;
  pin: string | undefined;
  async init(pinStdin: boolean): Promise<void> {
    if (!pinStdin) return;
    const r = await readStdinPin();
    this.pin = r.pin;
    this.data = r.rest;
  }
  async base64(what: string): Promise<Buffer> {
    this.data ??= await readAll(process.stdin);
    return decodeBase64(this.data.toString('utf8'), what);
  }
  /** Two base64 values on two lines (verify with --in - --signature -: data, then signature). */
  async twoLines(first: string, second: string): Promise<[Buffer, Buffer]> {
    this.data ??= await readAll(process.stdin);
    const lines = this.data.toString('utf8').split('\n').filter((l) => l.trim());
    if (lines.length !== 2) throw new UsageError(`--in - with --signature -: stdin must hold two base64 lines (${first}, then ${second}), got ${lines.length}`);
    return [decodeBase64(lines[0]!, first), decodeBase64(lines[1]!, second)];
  }
}

function decodeBase64(raw: string, what: string): Buffer {
  const text = raw.replace(/\s+/g, '');
  if (!text) throw new UsageError(`no ${what} on stdin: give base64 there, or a file with --in/--signature`);
  const problem = base64Problem(text);
  if (problem) throw new UsageError(`${what} on stdin is not base64 (${problem}); give a file with --in/--signature instead`);
  return Buffer.from(text, 'base64');
}

async function input(file: string, stdin: Stdin, what: string): Promise<Buffer> {
  if (file === '-') return stdin.base64(what);
  try {
    return readFileSync(file);
  } catch (err) {
    throw new UsageError(`${what} file ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/** Writes `data` to --out (raw), or base64 to stdout; returns the JSON field for it. */
function output(data: Buffer, out: string | undefined, json: boolean, field: string): Record<string, string> {
  if (out) {
    writeFileSync(out, data, { mode: 0o600 });
    return { [`${field}File`]: out };
  }
  if (!json) process.stdout.write(`${data.toString('base64')}\n`);
  return { [field]: data.toString('base64') };
}

/** Resolves the address, gets the PIN (before any input: a prompt and base64 on a terminal would mix), builds and runs the request. */
async function onToken(o: CommonOptions, build: (stdin: Stdin) => Promise<HsmRequest>, needToken = true): Promise<{ result: HsmResult; address: HsmAddress }> {
  const timeoutMs = timeout(o.timeoutMs);
  const address = await resolveAddress(o, needToken);
  const stdin = new Stdin();
  await stdin.init(o.pinStdin === true);
  const pin = needToken ? await obtainPin(address, stdin.pin) : undefined;
  const request = await build(stdin);
  if (needsLogin(request.op) && pin === undefined) throw new UsageError(`${request.op} needs the token's PIN`);
  return { result: await runOn(address, pin, request, timeoutMs), address };
}

/** A profile site with a non-empty `exec` runs the request there (src/sites/hsm-remote.ts); any other address in a local worker. */
async function runOn(address: HsmAddress, pin: string | undefined, request: HsmRequest, timeoutMs: number): Promise<HsmResult> {
  if (!address.remote) return runHsm(address.location, pin, request, { timeoutMs, env: address.env });
  const [{ remoteSiteClient }, { SiteDriver }] = await Promise.all([import('../sites/hsm-remote.ts'), import('../sites/driver.ts')]);
  return remoteSiteClient(address.name, new SiteDriver(address.name, address.remote.exec), address.remote.entry, pin).run(request, { timeoutMs });
}

const print = (json: boolean | undefined, result: HsmResult, extra: Record<string, unknown> = {}) => {
  if (json) process.stdout.write(JSON.stringify({ ...stripBuffers(result), ...extra }, null, 2) + '\n');
  else process.stdout.write(formatResult(result));
};

/** Results carry Buffers for data; JSON shows them as base64 fields chosen by the caller instead. */
function stripBuffers(r: HsmResult): Record<string, unknown> {
  const { output: _o, signature: _s, ...rest } = r as HsmResult & { output?: Buffer; signature?: Buffer };
  return rest;
}

function keySelector(o: KeyOptions): { label?: string; id?: string } {
  if (o.label === undefined && o.id === undefined) throw new UsageError('name the key with --label and/or --id');
  return { ...(o.label !== undefined ? { label: o.label } : {}), ...(o.id !== undefined ? { id: o.id } : {}) };
}

async function cipher(op: 'encrypt' | 'decrypt', o: DataOptions): Promise<void> {
  const oaepHash = oneOf<OaepHash>(o.oaepHash, OAEP_HASHES, '--oaep-hash');
  const aesMode = oneOf<AesMode>(o.aesMode, AES_MODES, '--aes-mode');
  const key = keySelector(o);
  const { result } = await onToken(o, async (stdin) => ({ op, key, data: await input(o.in, stdin, op === 'encrypt' ? 'plaintext' : 'ciphertext'), oaepHash, aesMode }));
  if (result.op !== op) return;
  const field = output(result.output, o.out, o.json === true, op === 'encrypt' ? 'ciphertext' : 'plaintext');
  if (o.json) print(true, result, field);
  else if (o.out) print(false, result);
}

export function register(program: Command): void {
  const hsm = program.command('hsm').description('PKCS#11 tokens (SoftHSM2, Thales Luna, …): list, generate, encrypt, decrypt, sign, verify, destroy; compare two tokens after replication (docs/hsm.md)');

  common(hsm.command('slots').description('list the module\'s slots (C_GetSlotList, C_GetSlotInfo)'), false).action(async (o: CommonOptions) => print(o.json, (await onToken(o, async () => ({ op: 'slots' }), false)).result));
  common(hsm.command('tokens').description('list the tokens present (C_GetTokenInfo)'), false).action(async (o: CommonOptions) => print(o.json, (await onToken(o, async () => ({ op: 'tokens' }), false)).result));
  common(hsm.command('objects').description('the token\'s inventory after login: class, label, ID, fingerprint (SHA-256 of public parts, KCV of secret keys), protection flags')).action(async (o: CommonOptions) => print(o.json, (await onToken(o, async () => ({ op: 'objects' }))).result));

  common(hsm.command('generate').description('generate an RSA key pair (CKM_RSA_PKCS_KEY_PAIR_GEN), an AES key (CKM_AES_KEY_GEN) or an EC P-256 key pair (CKM_EC_KEY_PAIR_GEN)'))
    .requiredOption('--type <type>', KEY_KINDS.join(' | '))
    .requiredOption('--label <label>', 'CKA_LABEL')
    .option('--id <hex>', 'CKA_ID (default: 8 random bytes)')
    .option('--bits <n>', 'RSA modulus bits (default 2048) or AES key bits (default 256)')
    .option('--extractable', 'CKA_EXTRACTABLE=true on the private/secret key (needed to replicate it by wrapping)')
    .option('--no-sensitive', 'CKA_SENSITIVE=false on the private/secret key (its value becomes readable: tests only)')
    .action(async (o: CommonOptions & { type: string; label: string; id?: string; bits?: string; extractable?: boolean; sensitive: boolean }) => {
      const kind = oneOf<KeyKind>(o.type, KEY_KINDS, '--type');
      const bits = o.bits === undefined ? undefined : Number(o.bits);
      if (bits !== undefined && !Number.isInteger(bits)) throw new UsageError(`--bits must be an integer, got "${o.bits}"`);
      print(o.json, (await onToken(o, async () => ({ op: 'generate', spec: { kind, label: o.label, ...(o.id !== undefined ? { id: o.id } : {}), ...(bits !== undefined ? { bits } : {}), sensitive: o.sensitive, extractable: o.extractable === true } }))).result);
    });

  dataOptions(keyOptions(common(hsm.command('encrypt').description('encrypt with an RSA public key (CKM_RSA_PKCS_OAEP) or an AES key (CKM_AES_GCM / CKM_AES_CBC_PAD; output IV ‖ ciphertext)'))), true).action((o: DataOptions) => cipher('encrypt', o));
  dataOptions(keyOptions(common(hsm.command('decrypt').description('decrypt with an RSA private key or the AES key (input as encrypt wrote it)'))), true).action((o: DataOptions) => cipher('decrypt', o));

  dataOptions(keyOptions(common(hsm.command('sign').description('sign with a private key: CKM_SHA256_RSA_PKCS, or ECDSA over SHA-256 (r ‖ s)'))), false).action(async (o: DataOptions) => {
    const key = keySelector(o);
    const { result } = await onToken(o, async (stdin) => ({ op: 'sign', key, data: await input(o.in, stdin, 'data') }));
    if (result.op !== 'sign') return;
    const field = output(result.signature, o.out, o.json === true, 'signature');
    if (o.json) print(true, result, field);
    else if (o.out) print(false, result);
  });

  keyOptions(common(hsm.command('verify').description('verify a signature with a public key; exit 1 when it does not verify')))
    .option('--in <file>', 'signed data (raw bytes); - reads base64 from stdin', '-')
    .requiredOption('--signature <file>', 'signature (raw bytes); - reads base64 from stdin (with --in -: data on the first line, signature on the second)')
    .action(async (o: DataOptions) => {
      const key = keySelector(o);
      const both = o.in === '-' && o.signature === '-'; // two base64 lines: how a remote site is asked
      const { result } = await onToken(o, async (stdin) => {
        const [data, signature] = both ? await stdin.twoLines('data', 'signature') : [await input(o.in, stdin, 'data'), await input(o.signature!, stdin, 'signature')];
        return { op: 'verify', key, data, signature };
      });
      print(o.json, result);
      if (result.op === 'verify' && !result.valid) process.exitCode = EXIT.unexpected;
    });

  keyOptions(common(hsm.command('destroy').description('destroy objects by label/ID (C_DestroyObject); several matches need --class, --id or --all')))
    .option('--class <class>', `only this class (${Object.values(CLASS_NAMES).join(', ')}; repeatable)`, (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--all', 'destroy every matching object (e.g. both halves of a key pair)')
    .action(async (o: KeyOptions & { class: string[]; all?: boolean }) => {
      for (const c of o.class) oneOf(c, Object.values(CLASS_NAMES), '--class');
      const key = { ...keySelector(o), ...(o.class.length ? { classes: o.class } : {}) };
      print(o.json, (await onToken(o, async () => ({ op: 'destroy', key, all: o.all === true }))).result);
    });

  // The harness's protection check on a remote site (src/sites/hsm-remote.ts, src/hsm/extraction.ts):
  // tries to read a private/secret key's value and the wrap-then-decrypt attack; outcomes only, never
  // bytes. Not in the help: an operator's tool, not a demo operation. Always JSON.
  keyOptions(common(hsm.command('extraction', { hidden: true }).description('try to get a private or secret key out (read, wrap-then-decrypt): outcomes as JSON, never key bytes'))).action(async (o: KeyOptions) => {
    const key = keySelector(o);
    const { result } = await onToken(o, async () => ({ op: 'extraction', key }));
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  });

  const repeat = (v: string, acc: string[]) => [...acc, v];
  hsm
    .command('compare')
    .description('compare two tokens (A: reference, B: replica) by class + label + ID + fingerprint; exit 1 when they differ')
    .option('--module <path>', 'PKCS#11 module (once for both tokens, or twice: A then B)', repeat, [] as string[])
    .option('--token <label>', 'token label (twice: A then B)', repeat, [] as string[])
    .option('--slot <id>', 'slot ID (twice: A then B) instead of labels', repeat, [] as string[])
    .option('--target <file>', 'target profile with sites.<site>.hsm')
    .option('--site <name>', 'profile site, or without --target a site of the running lab (twice: A then B)', repeat, [] as string[])
    .option('--run-id <id>', 'the lab whose sites --site names, when several run')
    .option('--timeout-ms <ms>', 'deadline of the PKCS#11 work on each side', DEFAULT_TIMEOUT_MS)
    .option('--pin-stdin', 'read the PIN (used for both tokens) from the first line of stdin')
    .option('--json', 'machine-readable output')
    .addOption(
      new Option('--pin <pin>').hideHelp().argParser(() => {
        throw new UsageError(PIN_REFUSAL);
      }),
    )
    .showHelpAfterError(false)
    .action(async (o: { module: string[]; token: string[]; slot: string[]; target?: string; site: string[]; runId?: string; timeoutMs: string; pinStdin?: boolean; json?: boolean }) => {
      const timeoutMs = timeout(o.timeoutMs);
      const sides = await compareAddresses(o);
      const stdin = new Stdin();
      await stdin.init(o.pinStdin === true);
      const pins = [await obtainPin(sides[0], stdin.pin), await obtainPin(sides[1], stdin.pin)];
      const settled = await Promise.allSettled(sides.map((a, i) => runOn(a, pins[i], { op: 'objects' }, timeoutMs)));
      const failed = settled.flatMap((s, i) => (s.status === 'rejected' ? [{ side: i === 0 ? 'A' : 'B', err: s.reason as Error }] : []));
      if (failed.length) {
        const err = failed[0]!.err;
        err.message = failed.map((f) => `side ${f.side} (${sides[f.side === 'A' ? 0 : 1].name}): ${f.err.message}`).join('; ');
        throw err;
      }
      const inv = settled.map((s) => ((s as PromiseFulfilledResult<HsmResult>).value as Extract<HsmResult, { op: 'objects' }>).inventory) as [Inventory, Inventory];
      const c = compareInventories(inv[0], inv[1]);
      if (o.json) {
        const who = (a: HsmAddress, i: number) => ({ name: a.name, module: a.location.module, token: inv[i]!.token });
        process.stdout.write(JSON.stringify({ a: who(sides[0], 0), b: who(sides[1], 1), ...c }, null, 2) + '\n');
      } else process.stdout.write(formatComparison(c, sides, inv));
      if (!c.identical) process.exitCode = EXIT.unexpected;
    });
}

/** The two sides of `compare`: two profile sites, or two tokens (labels or slots) of one or two modules. */
async function compareAddresses(o: { module: string[]; token: string[]; slot: string[]; target?: string; site: string[]; runId?: string }): Promise<[HsmAddress, HsmAddress]> {
  if (o.site.length || o.target !== undefined) {
    if (o.module.length || o.token.length || o.slot.length) throw new UsageError('give either --target FILE with two --site, or --module with two --token/--slot, not both');
    if (o.site.length !== 2) throw new UsageError(`compare needs two sites (--site A --site B), got ${o.site.length}`);
    return [await resolveAddress({ target: o.target, site: o.site[0], runId: o.runId }), await resolveAddress({ target: o.target, site: o.site[1], runId: o.runId })];
  }
  if (o.runId !== undefined) throw new UsageError('--run-id picks a lab: give it with --site A --site B');
  if (o.module.length < 1 || o.module.length > 2) throw new UsageError('compare needs --module PATH once (both tokens) or twice (A then B)');
  const names = o.token.length ? o.token : o.slot;
  if ((o.token.length && o.slot.length) || names.length !== 2) throw new UsageError('compare needs two tokens: --token A --token B (or --slot A --slot B)');
  return (await Promise.all([0, 1].map((i) => resolveAddress({ module: o.module[Math.min(i, o.module.length - 1)], ...(o.token.length ? { token: names[i] } : { slot: names[i] }) })))) as [HsmAddress, HsmAddress];
}
