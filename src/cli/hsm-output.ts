// Human output of `qkd-harness hsm`: aligned tables and one-line summaries. Only names, fingerprints,
// flags and handles appear — never key values or PINs (the JSON output carries the same fields).
import type { Comparison, Difference } from '../hsm/compare.ts';
import type { Inventory, InventoryEntry, Protection } from '../hsm/inventory.ts';
import type { HsmResult } from '../hsm/operations.ts';
import { formatName } from '../hsm/objects.ts';
import type { HsmAddress } from '../hsm/address.ts';

/** Left-aligned columns separated by two spaces. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

const yes = (v: boolean) => (v ? 'yes' : 'no');
/** Fingerprints shortened for tables (the JSON has them whole). */
const fp = (e: InventoryEntry): string => (e.fingerprint === null ? 'none' : e.fingerprint.startsWith('sha256:') ? `${e.fingerprint.slice(0, 23)}…` : e.fingerprint);

const FLAG_NAMES: Array<[keyof Protection, string]> = [
  ['sensitive', 'sensitive'],
  ['extractable', 'extractable'],
  ['local', 'local'],
  ['alwaysSensitive', 'always-sensitive'],
  ['neverExtractable', 'never-extractable'],
  ['private', 'private'],
];
export const flags = (p: Protection): string => FLAG_NAMES.filter(([k]) => p[k] === true).map(([, n]) => n).join(',') || '-';

function size(e: InventoryEntry): string {
  return e.curve ?? (e.bits ? `${e.bits}` : '');
}

export function formatInventory(inv: Inventory): string {
  const t = inv.token;
  const head = `token "${t.label}" (slot ${t.slot}, ${t.model}, serial ${t.serial}): ${inv.objects.length} object${inv.objects.length === 1 ? '' : 's'}\n`;
  if (!inv.objects.length) return head;
  return head + table(['CLASS', 'LABEL', 'ID', 'TYPE', 'SIZE', 'FINGERPRINT', 'FLAGS', 'HANDLE'], inv.objects.map((e) => [e.class, e.label, e.id || '-', e.keyType ?? '', size(e), fp(e), flags(e.protection), e.handle]));
}

/** One result of a single-token operation (not encrypt/decrypt/sign output data, which goes raw). */
export function formatResult(r: HsmResult): string {
  switch (r.op) {
    case 'slots':
      return `${r.module.description} ${r.module.version} (${r.module.manufacturer}, Cryptoki ${r.module.cryptoki}): ${r.module.path}\n` + table(['SLOT', 'TOKEN', 'DESCRIPTION', 'MANUFACTURER'], r.slots.map((s) => [s.slot, yes(s.tokenPresent), s.description, s.manufacturer]));
    case 'tokens':
      return `${r.module.description} ${r.module.version}: ${r.module.path}\n` + table(['SLOT', 'LABEL', 'MODEL', 'MANUFACTURER', 'SERIAL', 'INITIALIZED', 'LOGIN'], r.tokens.map((t) => [t.slot, t.label || '(empty)', t.model, t.manufacturer, t.serial, yes(t.initialized && t.userPinInitialized), t.loginRequired ? 'required' : 'no']));
    case 'objects':
      return formatInventory(r.inventory);
    case 'generate':
      return `generated ${r.key.kind === 'aes' ? 'AES key' : `${r.key.kind.toUpperCase()} key pair`} id=${r.key.id} on token "${r.token}": ${r.key.objects.map((o) => `${formatName(o)} (handle ${o.handle})`).join(', ')}\n`;
    case 'encrypt':
    case 'decrypt':
      return `${r.op}ed with ${r.mechanism} using ${formatName(r.key)} on token "${r.token}": ${r.output.length} bytes written\n`;
    case 'sign':
      return `signed with ${r.mechanism} using ${formatName(r.key)} on token "${r.token}": ${r.signature.length}-byte signature written\n`;
    case 'verify':
      return `signature ${r.valid ? 'valid' : 'INVALID'} (${r.mechanism}, ${formatName(r.key)} on token "${r.token}")\n`;
    case 'destroy':
      return `destroyed on token "${r.token}": ${r.destroyed.map(formatName).join('; ')}\n`;
    case 'extraction':
      return `extraction attempt on ${formatName(r.key)} (token "${r.token}"): read ${r.read.outcome}, wrap-then-decrypt ${r.wrap.outcome}\n`;
  }
}

const side = (label: string, a: HsmAddress, inv: Inventory) => `${label} = ${a.name === inv.token.label ? `token "${inv.token.label}"` : `${a.name} (token "${inv.token.label}")`} via ${a.location.module}`;

function describeDifference(d: Difference): string {
  return `  ${d.kind.padEnd(17)} ${formatName(d.object)}: ${d.detail}`;
}

export function formatComparison(c: Comparison, sides: [HsmAddress, HsmAddress], inv: [Inventory, Inventory]): string {
  const out = [`${side('A', sides[0], inv[0])}\n${side('B', sides[1], inv[1])}\n`];
  out.push(
    table(
      ['CLASS', 'LABEL', 'ID', 'A', 'B', 'FINGERPRINT A', 'FINGERPRINT B', 'SENSITIVE A/B', 'VERDICT'],
      c.rows.map((r) => {
        const s = (l: InventoryEntry[]) => (l.length ? l.map((e) => (e.protection.sensitive === undefined ? '-' : yes(e.protection.sensitive))).join('+') : '');
        return [r.object.class, r.object.label, r.object.id || '-', `${r.a.length}`, `${r.b.length}`, r.a.map(fp).join(' ') || '', r.b.map(fp).join(' ') || '', `${s(r.a) || '·'}/${s(r.b) || '·'}`, r.verdict === 'same' ? 'same' : r.verdict.join(',')];
      }),
    ),
  );
  if (c.differences.length) out.push(`\ndifferences (${c.differences.length}):\n${c.differences.map(describeDifference).join('\n')}\n`);
  if (c.notes.length) {
    const byObject = new Map<string, string[]>();
    for (const n of c.notes) {
      const k = formatName(n.object);
      byObject.set(k, [...(byObject.get(k) ?? []), `${n.attribute} A=${n.a === null ? '-' : yes(n.a)} B=${n.b === null ? '-' : yes(n.b)}`]);
    }
    out.push(`\nattributes that differ without counting (replication changes them):\n${[...byObject].map(([k, v]) => `  ${k}: ${v.join(', ')}`).join('\n')}\n`);
  }
  const counts = Object.entries(c.counts.differences).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ');
  out.push(`\n${c.empty ? 'nothing compared: both tokens hold no objects (is the right token or partition named? make a key on A first)' : c.identical ? `identical: ${c.counts.a} objects on A, ${c.counts.b} on B` : `${c.differences.length} difference${c.differences.length === 1 ? '' : 's'} (${counts}); ${c.counts.a} objects on A, ${c.counts.b} on B`}\n`);
  return out.join('');
}
