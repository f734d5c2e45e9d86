// The refusal rule beyond clause 4 (issue 9): a request that ought to be refused but gets a 200 head,
// whose body then breaks off, was served — a `fail` of the authorisation requirement, not an `error`.
// Stand-in KMEs over plain HTTP: A serves Status and enc_keys for SAE_B, and answers the master's own
// dec_keys and every request naming another slave with a 200 head and a cut-off body; B serves the slave.
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveStandIns, standInOutcomes, standInPair, STAND_IN_STATUS } from './testing/stand-in.ts';
import { writeMiB } from '../testing/stream.ts';

let standIns: Awaited<ReturnType<typeof serveStandIns>>;

/** A 200 head, the start of a key container, then the connection is destroyed. */
function servedThenCut(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': '4096' });
  res.write('{"keys":[{"key_ID":"');
  setTimeout(() => res.socket?.destroy(), 20);
}

beforeAll(async () => {
  standIns = await serveStandIns(standInPair(STAND_IN_STATUS, (_req, res) => servedThenCut(res)));
});

afterAll(() => standIns.close());

const outcomes = (ids: string[]) => standInOutcomes(standIns.urls, ids);

describe('a 200 head whose body breaks off is service, not an error', () => {
  it('the master redeeming its own key (5.4/10) and an unknown slave (5.3/19) are findings naming what followed the head', async () => {
    const o = await outcomes(['qkd014/5.4/10', 'qkd014/5.3/19']);
    expect(o.get('qkd014/5.4/10')).toMatchObject({ outcome: 'fail', message: expect.stringMatching(/^2 deviations: \(1\) POST dec_keys by the master SAE .*handed its own key \(200, then the connection was closed before the body was complete.*\) instead of 401/) });
    expect(o.get('qkd014/5.3/19')).toMatchObject({ outcome: 'warn', message: expect.stringMatching(/^3 deviations: \(1\) POST enc_keys naming the unknown slave .*: served \(200, then the connection was closed/) });
  });
});

describe('a 200 cut off at the harness own size cap is service, not a refusal', () => {
  it('qkd014/5/4: an oversized request answered with a 200 whose body exceeds max_response_bytes is "expected 400, got 200", never a pass', async () => {
    // Found by suites/hostile (10⁶ keys in one container): the cap's response-too-large read as the KME closing on the request.
    const [master, slave] = standInPair(STAND_IN_STATUS);
    const huge = await serveStandIns([
      (req, res) => {
        if (req.method === 'POST' && Number(req.headers['content-length']) > 1024 * 1024 && req.url?.endsWith('/enc_keys')) {
          req.resume();
          res.writeHead(200, { 'content-type': 'application/json' });
          return writeMiB(res, 6); // chunked: over the 4 MiB default cap only as it streams
        }
        return master(req, res);
      },
      slave,
    ]);
    try {
      const o = await standInOutcomes(huge.urls, ['qkd014/5/4']);
      expect(o.get('qkd014/5/4')).toMatchObject({ outcome: 'warn', message: expect.stringMatching(/expected 400, got 200 \(then response-too-large\)/) });
    } finally {
      await huge.close();
    }
  });
});
