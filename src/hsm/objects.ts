// Finding objects on a token (C_FindObjectsInit / C_FindObjects / C_FindObjectsFinal), naming them by
// class + CKA_LABEL + CKA_ID (handles are per session and differ between HSMs), and destroying them
// (C_DestroyObject).
import type { Template } from 'pkcs11js';
import { UsageError } from '../cli/exit.ts';
import type { Handle } from './binding.ts';
import { CLASS_NAMES, className, hex, keyTypeName, readAttributes, ulong, utf8 } from './attributes.ts';
import { handleText } from './module.ts';
import type { TokenSession } from './token.ts';

/** What the harness calls an object: class, label and ID identify it across tokens. */
export interface ObjectName {
  class: string;
  label: string;
  /** CKA_ID in lowercase hex ('' when empty). */
  id: string;
}

export interface ObjectSummary extends ObjectName {
  keyType?: string;
  /** This session's handle, in decimal: for diagnostics only, never for matching. */
  handle: string;
}

/** How the user picks objects: label and/or ID, optionally restricted to classes. */
export interface ObjectSelector {
  label?: string;
  /** Hex. */
  id?: string;
  classes?: string[];
}

/** CKO_ value of a class name. @throws UsageError for unknown names. */
export function classValue(name: string): number {
  const hit = Object.entries(CLASS_NAMES).find(([, n]) => n === name);
  if (!hit) throw new UsageError(`unknown object class "${name}" (known: ${Object.values(CLASS_NAMES).join(', ')})`);
  return Number(hit[0]);
}

/** Parses a CKA_ID given as hex. @throws UsageError. */
export function parseId(id: string, flag = '--id'): Buffer {
  if (!/^([0-9a-f]{2})+$/i.test(id)) throw new UsageError(`${flag} must be an even number of hex digits, got "${id}"`);
  return Buffer.from(id, 'hex');
}

/** All objects matching `template` (a C_FindObjects loop in batches; C_FindObjectsFinal always runs). */
export function findObjects(s: TokenSession, template: Template): Handle[] {
  const { mod } = s;
  mod.call('C_FindObjectsInit', () => mod.p11.C_FindObjectsInit(s.handle, template));
  const found: Handle[] = [];
  try {
    for (;;) {
      const batch = mod.call('C_FindObjects', () => mod.p11.C_FindObjects(s.handle, 64));
      found.push(...batch);
      if (batch.length < 64) break;
    }
  } finally {
    mod.call('C_FindObjectsFinal', () => mod.p11.C_FindObjectsFinal(s.handle));
  }
  return found;
}

/** The template that C_FindObjects needs for a selector (token objects only). */
export function selectorTemplate(s: TokenSession, sel: ObjectSelector, cls?: string): Template {
  const b = s.mod.binding;
  const t: Template = [{ type: b.CKA_TOKEN, value: true }];
  if (sel.label !== undefined) t.push({ type: b.CKA_LABEL, value: Buffer.from(sel.label, 'utf8') });
  if (sel.id !== undefined) t.push({ type: b.CKA_ID, value: parseId(sel.id) });
  if (cls !== undefined) t.push({ type: b.CKA_CLASS, value: classValue(cls) });
  return t;
}

/** Class, label, ID and key type of one object. */
export function describeObject(s: TokenSession, h: Handle): ObjectSummary {
  const b = s.mod.binding;
  const a = readAttributes(s, h, [b.CKA_CLASS, b.CKA_LABEL, b.CKA_ID, b.CKA_KEY_TYPE]);
  const cls = ulong(a.get(b.CKA_CLASS));
  const kt = ulong(a.get(b.CKA_KEY_TYPE));
  return { class: cls === undefined ? 'unknown' : className(cls), label: utf8(a.get(b.CKA_LABEL)), id: hex(a.get(b.CKA_ID)), ...(kt !== undefined ? { keyType: keyTypeName(kt) } : {}), handle: handleText(h) };
}

/** Every token object matching the selector, in the classes given (all classes when none). */
export function selectObjects(s: TokenSession, sel: ObjectSelector): Array<{ handle: Handle; summary: ObjectSummary }> {
  const classes = sel.classes?.length ? sel.classes : [undefined];
  return classes.flatMap((c) => findObjects(s, selectorTemplate(s, sel, c)).map((handle) => ({ handle, summary: describeObject(s, handle) })));
}

/**
 * Exactly one object for an operation (`purpose` names it in errors, e.g. "encrypt").
 * @throws UsageError when no object or several match (then naming them, so the user can add --id).
 */
export function selectOne(s: TokenSession, sel: ObjectSelector, purpose: string): { handle: Handle; summary: ObjectSummary } {
  if (sel.label === undefined && sel.id === undefined) throw new UsageError(`${purpose}: name the key with --label and/or --id`);
  const hits = selectObjects(s, sel);
  const what = describeSelector(sel);
  if (hits.length === 0) throw new UsageError(`${purpose}: no ${sel.classes?.join(' or ') ?? 'object'} with ${what} on token "${s.token.label}"`);
  if (hits.length > 1) throw new UsageError(`${purpose}: ${hits.length} objects match ${what} on token "${s.token.label}" (${hits.map((h) => formatName(h.summary)).join('; ')}): narrow it with --id`);
  return hits[0]!;
}

export const describeSelector = (sel: ObjectSelector): string => [sel.label !== undefined ? `label "${sel.label}"` : '', sel.id !== undefined ? `ID ${sel.id}` : ''].filter(Boolean).join(' and ');
export const formatName = (n: ObjectName): string => `${n.class} "${n.label}" id=${n.id || '-'}`;

/** C_DestroyObject. */
export function destroyObject(s: TokenSession, h: Handle): void {
  s.mod.call('C_DestroyObject', () => s.mod.p11.C_DestroyObject(s.handle, h));
}
