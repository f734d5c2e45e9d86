// The probe for a real deployment: run on a site through its driver (no agent to install), a bash loop
// sends numbered UDP datagrams to the address across the tunnel (an echo service, `probe: {host, port}`)
// and prints one line per datagram: `<seq> <sent ms> <1|0>`. Parsed into the lab probe's report form.
// (bash's `read` takes a socket byte by byte, which loses the rest of a datagram: dd reads whole ones.)
import type { ChildProcess } from 'node:child_process';
import type { Outage, ProbeReport } from '../lab/probe.ts';
import type { SiteDriver } from './driver.ts';

export const PROBE_SCRIPT = `
host=$1; port=$2; gap=\${3:-0.2}
exec 3<>"/dev/udp/$host/$port" || exit 3
i=0
while :; do
  i=$((i+1)); t=\${EPOCHREALTIME/./}; t=\${t:0:13}
  printf 'qkdh-probe %s %s\\n' "$i" "$t" >&3 2>/dev/null
  ok=0
  for _ in 1 2 3; do
    reply=$(timeout 1 dd bs=2048 count=1 <&3 2>/dev/null) || break
    case "$reply" in "qkdh-probe $i "*) ok=1; break;; esac
  done
  echo "$i $t $ok"
  sleep "$gap"
done`;

export class DriverProbe {
  private child: ChildProcess | undefined;
  private buf = '';
  private lines: Array<{ seq: number; sent: number; ok: boolean }> = [];

  constructor(
    readonly driver: SiteDriver,
    readonly host: string,
    readonly port: number,
  ) {}

  start(): void {
    this.child = this.driver.start(['bash', '-c', PROBE_SCRIPT, 'qkdh-probe', this.host, String(this.port)]);
    this.child.stdout!.on('data', (b: Buffer) => {
      this.buf += b.toString('utf8');
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const m = /^(\d+) (\d+) ([01])$/.exec(this.buf.slice(0, nl).trim());
        this.buf = this.buf.slice(nl + 1);
        if (m) this.lines.push({ seq: Number(m[1]), sent: Number(m[2]), ok: m[3] === '1' });
      }
    });
    this.child.stderr!.on('data', () => undefined);
    this.child.on('error', () => undefined);
  }

  stop(): void {
    this.child?.kill('SIGTERM');
  }

  report(): ProbeReport {
    const outages: Outage[] = [];
    let open: Outage | undefined;
    for (const l of this.lines) {
      if (!l.ok && !open) outages.push((open = { from: l.sent, to: null, lost: 0 }));
      if (!l.ok) open!.lost++;
      if (l.ok && open) {
        open.to = l.sent;
        open = undefined;
      }
    }
    const ok = this.lines.filter((l) => l.ok).length;
    const lost = this.lines.length - ok;
    return { target: `${this.host}:${this.port}`, sent: this.lines.length, ok, lost, late: 0, loss: this.lines.length ? lost / this.lines.length : 0, rttP50: null, outages, at: this.lines.at(-1)?.sent ?? null };
  }
}
