// The replication agent's pure parts: framing and validation of the protocol, the primary's journal, the
// command line and the fault switches.
import { describe, expect, it } from 'vitest';
import { parseAgentArgs } from './config.ts';
import { parseFaults } from './faults.ts';
import { Journal } from './journal.ts';
import { encodeFrame, FrameDecoder, MAX_FRAME, ProtocolError, type KeyDescriptor } from './protocol.ts';

const key = (o: Partial<KeyDescriptor> = {}): KeyDescriptor => ({ class: 'secret-key', label: 'k', id: '01', keyType: 'aes', fingerprint: 'kcv:abcdef', usages: { encrypt: true, decrypt: true }, ...o });
const frame = (value: unknown): Buffer => {
  const body = Buffer.from(JSON.stringify(value));
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
};

describe('hsm-sync protocol framing', () => {
  it('decodes frames split at any byte and several frames in one chunk', () => {
    const bytes = Buffer.concat([encodeFrame({ type: 'ping', n: 1 }), encodeFrame({ type: 'put', seq: 7, key: key(), kek: 'kcv:123456', wrapped: 'AAEC' }), encodeFrame({ type: 'pong', n: 2 })]);
    for (let cut = 1; cut < bytes.length; cut += 7) {
      const d = new FrameDecoder();
      const got = [...d.push(bytes.subarray(0, cut)), ...d.push(bytes.subarray(cut))];
      expect(got.map((m) => m.type)).toEqual(['ping', 'put', 'pong']);
      expect(got[1]).toMatchObject({ v: 1, seq: 7, key: { label: 'k', fingerprint: 'kcv:abcdef' }, wrapped: 'AAEC' });
    }
  });

  it('refuses an oversized frame before reading it, non-JSON, another version and malformed messages — without echoing values', () => {
    const big = Buffer.alloc(4);
    big.writeUInt32BE(MAX_FRAME + 1);
    expect(() => new FrameDecoder().push(big)).toThrow(/more than/);
    const notJson = Buffer.concat([Buffer.from([0, 0, 0, 3]), Buffer.from('{x]')]);
    expect(() => new FrameDecoder().push(notJson)).toThrow(/not JSON/);
    let e: unknown;
    try {
      new FrameDecoder().push(frame({ v: 2, type: 'ping', n: 1 }));
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(ProtocolError);
    expect((e as ProtocolError).code).toBe('version');
    // A put without a sequence number, a blob that is not base64, a fingerprint of another shape.
    expect(() => new FrameDecoder().push(frame({ v: 1, type: 'put', key: key(), kek: 'kcv:123456' }))).toThrow(/malformed "put" message: seq/);
    expect(() => new FrameDecoder().push(frame({ v: 1, type: 'put', seq: 1, key: key(), kek: 'kcv:123456', wrapped: 'not base64!' }))).toThrow(/wrapped/);
    const secretish = 'kcv:SECRET';
    let msg = '';
    try {
      new FrameDecoder().push(frame({ v: 1, type: 'put', seq: 1, key: key({ fingerprint: secretish }), kek: 'kcv:123456' }));
    } catch (err) {
      msg = (err as Error).message;
    }
    expect(msg).toMatch(/key\.fingerprint/);
    expect(msg).not.toContain('SECRET');
    expect(() => new FrameDecoder().push(frame({ v: 1, type: 'nonsense' }))).toThrow(ProtocolError);
  });

  it('refuses to encode a frame larger than MAX_FRAME', () => {
    expect(() => encodeFrame({ type: 'error', code: 'protocol', message: 'x'.repeat(MAX_FRAME), retry: false })).toThrow(/more than/);
  });
});

describe('hsm-sync journal', () => {
  it('journals new keys as puts, nothing for an unchanged scan, a put for changed material or usages, a tombstone for a vanished key', () => {
    const j = new Journal();
    const a = key({ label: 'a' });
    const b = key({ label: 'b', class: 'public-key', keyType: 'rsa', fingerprint: `sha256:${'1'.repeat(64)}`, usages: { encrypt: true } });
    expect(j.record([a, b]).added.map((e) => [e.seq, e.op])).toEqual([
      [1, 'put'],
      [2, 'put'],
    ]);
    expect(j.record([b, a]).added).toEqual([]);
    // Usages listed in another order are the same version.
    expect(j.record([key({ label: 'a', usages: { decrypt: true, encrypt: true } }), b]).added).toEqual([]);
    expect(j.record([key({ label: 'a', fingerprint: 'kcv:000000' }), b]).added.map((e) => e.op)).toEqual(['put']);
    expect(j.record([key({ label: 'a', fingerprint: 'kcv:000000', usages: { encrypt: true } }), b]).added.map((e) => e.op)).toEqual(['put']);
    const del = j.record([b]).added;
    expect(del).toMatchObject([{ seq: 5, op: 'delete', name: { class: 'secret-key', label: 'a', id: '01' }, fingerprint: 'kcv:000000' }]);
    expect(j.seq).toBe(5);
    expect(j.next(0)?.seq).toBe(1);
    expect(j.next(4)?.op).toBe('delete');
    expect(j.next(5)).toBeUndefined();
  });

  it('with dropDeletes, a vanished key is forgotten without a tombstone (and put again if it returns)', () => {
    const j = new Journal();
    j.record([key()]);
    const r = j.record([], { dropDeletes: true });
    expect(r.added).toEqual([]);
    expect(r.dropped.map((k) => k.label)).toEqual(['k']);
    expect(j.record([key()]).added.map((e) => e.op)).toEqual(['put']);
  });
});

describe('hsm-sync command line and fault switches', () => {
  const env = { QKD_HSM_PIN: 'pin-1', QKDH_HSM_SYNC_FAULT: '' };
  const primary = ['--role', 'primary', '--module', '/m.so', '--token', 't', '--peer', '10.0.0.2:7000'];

  it('parses a primary and a replica; the PIN comes from QKD_HSM_PIN_<SITE> before QKD_HSM_PIN', () => {
    const p = parseAgentArgs([...primary, '--site', 'alice', '--bind', '10.0.0.1', '--scan-ms', '200'], { ...env, QKD_HSM_PIN_ALICE: 'pin-a' });
    expect(p).toMatchObject({ role: 'primary', site: 'alice', location: { module: '/m.so', token: 't' }, pin: 'pin-a', peer: { host: '10.0.0.2', port: 7000 }, bind: '10.0.0.1', scanMs: 200, netTimeoutMs: 5000 });
    const r = parseAgentArgs(['--role', 'replica', '--module', '/m.so', '--token', 't', '--listen', '10.0.0.2:7000', '--listen', '[::1]:7001'], env);
    expect(r).toMatchObject({ role: 'replica', site: 'replica', pin: 'pin-1', listen: [{ host: '10.0.0.2', port: 7000 }, { host: '::1', port: 7001 }] });
  });

  it('refuses a PIN on the command line without repeating it, a missing PIN, missing addresses and the other role\'s options', () => {
    expect(() => parseAgentArgs([...primary, '--pin', 'very-secret'], env)).toThrow(/--pin is not accepted/);
    try {
      parseAgentArgs([...primary, '--pin', 'very-secret'], env);
    } catch (err) {
      expect((err as Error).message).not.toContain('very-secret');
    }
    expect(() => parseAgentArgs(primary, {})).toThrow(/no PIN: set QKD_HSM_PIN_PRIMARY or QKD_HSM_PIN/);
    expect(() => parseAgentArgs(['--role', 'primary', '--module', '/m.so', '--token', 't'], env)).toThrow(/--peer HOST:PORT/);
    expect(() => parseAgentArgs(['--role', 'replica', '--module', '/m.so', '--token', 't'], env)).toThrow(/--listen HOST:PORT/);
    expect(() => parseAgentArgs(['--role', 'replica', '--module', '/m.so', '--token', 't', '--listen', '1.2.3.4:5', '--peer', '1.2.3.4:6'], env)).toThrow(/for the primary/);
    expect(() => parseAgentArgs([...primary, '--scan-ms', '0'], env)).toThrow(/--scan-ms/);
    expect(() => parseAgentArgs(['--role', 'sideways'], env)).toThrow(/--role/);
  });

  it('takes faults from --fault and QKDH_HSM_SYNC_FAULT; refuses unknown names and a fault of the other role', () => {
    expect([...parseFaults('primary', ['drop-deletes'], { QKDH_HSM_SYNC_FAULT: 'corrupt-blob, send-outside-tunnel' })].sort()).toEqual(['corrupt-blob', 'drop-deletes', 'send-outside-tunnel']);
    expect([...parseFaults('replica', [], { QKDH_HSM_SYNC_FAULT: 'duplicate-imports,unwrap-non-sensitive' })].sort()).toEqual(['duplicate-imports', 'unwrap-non-sensitive']);
    expect(() => parseFaults('primary', ['no-such-fault'], {})).toThrow(/unknown fault "no-such-fault"/);
    expect(() => parseFaults('primary', ['duplicate-imports'], {})).toThrow(/belongs to the replica agent/);
    expect(() => parseFaults('replica', [], { QKDH_HSM_SYNC_FAULT: 'drop-deletes' })).toThrow(/belongs to the primary agent/);
    expect(() => parseAgentArgs([...primary, '--fault', 'send-outside-tunnel'], env)).toThrow(/--peer-underlay/);
  });
});
