// Where a token's PIN comes from — never the command line (other users see it in `ps`, shells keep it
// in history) and never any output or error text:
// 1. `--pin-stdin`: the first line of stdin (how a harness passes it to a remote `qkd-harness hsm`);
// 2. the environment: QKD_HSM_PIN_<SITE> for a profile site, then the profile's `pin` (written as
//    ${SOME_VARIABLE}), then QKD_HSM_PIN;
// 2b. a lab site: the lab's PIN file (a throwaway PIN of a root-owned test token, mode 0600);
// 3. a prompt on the terminal, without echo, when stdin is a TTY.
import { readFileSync } from 'node:fs';
import { UsageError } from '../cli/exit.ts';
import type { HsmAddress } from './address.ts';

/** The PIN for `addr`; `stdinPin` is what --pin-stdin read. @throws UsageError when there is none. */
export async function obtainPin(addr: HsmAddress, stdinPin: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (stdinPin !== undefined) return stdinPin;
  for (const v of addr.pinVariables.slice(0, -1)) if (env[v]) return env[v];
  if (addr.profilePin) return addr.profilePin;
  const generic = addr.pinVariables.at(-1);
  if (generic && env[generic]) return env[generic];
  if (addr.pinFile) return readPinFile(addr.pinFile, addr.name);
  if (process.stdin.isTTY) return promptHidden(`PIN for token ${addr.location.token ?? addr.name}${addr.name !== addr.location.token ? ` (${addr.name})` : ''}: `);
  throw new UsageError(`no PIN for ${addr.name}: set ${addr.pinVariables.join(' or ')}, pass it on stdin with --pin-stdin, or run on a terminal to be asked`);
}

function readPinFile(file: string, name: string): string {
  let pin = '';
  try {
    pin = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new UsageError(`no PIN for ${name}: the lab's PIN file ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}; it is root's, mode 0600)`);
  }
  if (!pin) throw new UsageError(`no PIN for ${name}: the lab's PIN file ${file} is empty`);
  return pin;
}

/** Reads one line from stdin for --pin-stdin; the rest of stdin stays available as `rest`. */
export async function readStdinPin(): Promise<{ pin: string; rest: Buffer }> {
  const all = await readAll(process.stdin);
  const nl = all.indexOf(0x0a);
  const line = (nl < 0 ? all : all.subarray(0, nl)).toString('utf8').replace(/\r$/, '');
  if (!line) throw new UsageError('--pin-stdin: the first line of stdin is empty');
  return { pin: line, rest: nl < 0 ? Buffer.alloc(0) : all.subarray(nl + 1) };
}

export async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(chunks);
}

/** Reads a line from the TTY in raw mode (no echo) after prompting on stderr. Ctrl-C cancels. */
function promptHidden(question: string): Promise<string> {
  const input = process.stdin;
  // Echo goes off before the prompt appears: a PIN typed (or pasted) the moment the prompt shows
  // would otherwise be echoed by the terminal.
  input.setRawMode(true);
  process.stderr.write(question);
  input.resume();
  return new Promise((resolve, reject) => {
    let pin = '';
    const done = (err?: Error) => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(pin);
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done(pin ? undefined : new UsageError('no PIN entered'));
        if (ch === '\u0003' || ch === '\u0004') return done(new UsageError('PIN entry cancelled'));
        if (ch === '\u007f' || ch === '\b') pin = pin.slice(0, -1);
        else pin += ch;
      }
    };
    input.on('data', onData);
  });
}
