// Data-format requirements against a KME whose every 200 body is cut-off JSON (found by suites/hostile):
// qkd014/6/1 looks for optional members, so answers that are not JSON cannot make it pass; it is an
// error saying nothing could be inspected.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveStandIns, standInOutcomes } from './testing/stand-in.ts';

let standIns: Awaited<ReturnType<typeof serveStandIns>>;

beforeAll(async () => {
  standIns = await serveStandIns([
    (req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys": [ {"key_ID": "1", "key": "AAAA" ');
    },
  ]);
});
afterAll(() => standIns.close());

describe('a KME answering invalid JSON', () => {
  it('qkd014/6/1 is an error (no answer could be inspected), not a pass', async () => {
    const o = await standInOutcomes(standIns.urls, ['qkd014/6/1']);
    expect(o.get('qkd014/6/1')).toMatchObject({ outcome: 'error', message: expect.stringMatching(/none of \d+ answers could be inspected/) });
  });
});
