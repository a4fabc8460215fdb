/**
 * evaluateCheck (guards and holds look once) and validateChecks, against a local HTTP server
 * that answers as a Prometheus and an app would (the e2e tests use a real Prometheus).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { evaluateCheck, validateChecks, type CheckContext } from '../../../../src/actions/checks/evaluate.js';
import type { Check } from '../../../../src/api/v1alpha1/schema.js';

let server: Server;
let base = '';
const vector = (values: string[]) => ({
  status: 'success',
  data: { resultType: 'vector', result: values.map((v, i) => ({ metric: { i: String(i) }, value: [1, v] })) },
});
const ANSWERS: Record<string, unknown> = {
  lag: vector(['150']),
  low: vector(['30']),
  empty: vector([]),
  nan: vector(['NaN']),
};

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/api/v1/query') {
      const q = url.searchParams.get('query') ?? '';
      if (q === 'broken(') return void res.writeHead(400).end('{"status":"error","error":"parse error"}');
      return void res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify(ANSWERS[q] ?? vector([])));
    }
    if (url.pathname === '/health') return void res.writeHead(200).end('ok');
    if (url.pathname === '/down') return void res.writeHead(503).end('down');
    // never answers: the check's deadline must end the look
    if (url.pathname === '/hang') return;
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const ctx: CheckContext = {
  clients: undefined as never,
  readSecret: () => Promise.reject(new Error('no such secret')),
};
// The tables are built before the server listens: BASE stands for its URL until the test runs.
const BASE = 'http://base.invalid';
const at = (check: Check): Check => JSON.parse(JSON.stringify(check).replaceAll(BASE, base)) as Check;
const prom = (query: string, extra: Record<string, unknown> = {}): Check => ({
  name: 'c',
  prometheusQuery: { url: BASE, query, expect: { op: '>', value: 120 }, ...extra },
});

describe('evaluateCheck', () => {
  test.each([
    ['lag over the RPO', prom('lag'), {}, 'Met', /all 1 sample\(s\) > 120/],
    ['lag under the RPO', prom('low'), {}, 'NotMet', /sample \{i="0"\} 30 is not > 120/],
    // a guard without evidence is not met: noData defaults to Fail in an evaluation
    ['no data in a guard', prom('empty'), {}, 'NotMet', /no data, which fails \(noData: Fail\)/],
    ['NaN in a guard', prom('nan'), {}, 'NotMet', /only NaN/],
    ['no data that passes', prom('empty', { noData: 'Pass' }), {}, 'Met', /noData: Pass/],
    // an evaluation does not poll: Wait reads as not met
    ['no data, Wait', prom('empty', { noData: 'Wait' }), {}, 'NotMet', /no data yet/],
    ['the caller sets the default', prom('empty'), { noData: 'Pass' }, 'Met', /noData: Pass/],
    ['a broken query', prom('broken('), {}, 'Error', /was rejected/],
    ['an app that answers', { name: 'h', httpCheck: { url: `${BASE}/health` } }, {}, 'Met', /returned 200/],
    ['an app that does not', { name: 'h', httpCheck: { url: `${BASE}/down` } }, {}, 'NotMet', /status 503/],
    [
      'nothing listening',
      { name: 'h', httpCheck: { url: 'http://127.0.0.1:1/' } },
      {},
      'Error',
      /fetch failed/,
    ],
    [
      'a Secret that cannot be read',
      { name: 'r', redisCheck: { urlFrom: { secretKeyRef: { name: 'gone', key: 'url' } } } },
      {},
      'Error',
      /cannot read key url of Secret gone/,
    ],
    [
      'a write command',
      { name: 'r', redisCheck: { url: 'redis://127.0.0.1:1', command: ['DEL', 'k'] } },
      {},
      'Error',
      /DEL is not a read-only command/,
    ],
    ['no member', { name: 'x' }, {}, 'Error', /must have exactly one of/],
  ] as const)('%s → %s', async (_what, check, opts, result, message) => {
    const got = await evaluateCheck(at(check as Check), ctx, opts);
    expect(got.result).toBe(result);
    expect(got.message).toMatch(message);
  });

  test('what was read is in the output', async () => {
    expect(await evaluateCheck(at(prom('lag')), ctx)).toEqual({
      result: 'Met',
      message: expect.stringMatching(/^query "lag" on http:\/\/127\.0\.0\.1:\d+\/: all 1 sample\(s\) > 120$/),
      output: { samples: [{ labels: { i: '0' }, value: 150 }] },
    });
  });

  test('a look that hangs ends as an Error at the check timeout', async () => {
    const got = await evaluateCheck(
      at({ name: 'h', timeout: '1s', httpCheck: { url: `${BASE}/hang` } }),
      ctx,
    );
    expect(got.result).toBe('Error');
    expect(got.message).toMatch(/timeout|aborted/i);
  });
});

describe('validateChecks', () => {
  test('a valid list has no problems', () => {
    expect(
      validateChecks(
        [
          {
            name: 'lag',
            prometheusQuery: { url: 'http://p', ratio: { numerator: 'a', denominator: 'b' }, noData: 'Pass' },
          },
          {
            name: 'ping',
            timeout: '5s',
            redisCheck: { url: 'redis://r:6379', expectMatch: '(?m)^role:master' },
          },
          { name: 'deploy', rollout: { changedWithin: '1h', notReady: true } },
        ],
        'guard.checks',
      ),
    ).toEqual([]);
  });

  test.each([
    [
      [{ name: 'x' }],
      ['guard.checks[0]: give exactly one of httpCheck, redisCheck, postgresCheck, prometheusQuery, rollout'],
    ],
    [
      [{ name: 'x', httpCheck: { url: 'http://a' }, redisCheck: { url: 'redis://r' } }],
      [
        'guard.checks[0]: give exactly one of httpCheck, redisCheck, postgresCheck, prometheusQuery, rollout, not httpCheck and redisCheck',
      ],
    ],
    [
      [
        { name: 'a', httpCheck: { url: 'http://a' } },
        { name: 'a', httpCheck: { url: 'http://b' } },
      ],
      ['guard.checks[1].name: "a" is used by an earlier check of the list'],
    ],
    [
      [{ name: 'a', timeout: '2m', httpCheck: { url: 'http://a' } }],
      [expect.stringMatching(/^guard.checks\[0\].timeout: at most 1m/)],
    ],
    [
      [{ name: 'a', timeout: '0s', httpCheck: { url: 'http://a' } }],
      ['guard.checks[0].timeout: must be longer than 0'],
    ],
    [
      [{ name: 'a', prometheusQuery: { url: 'http://p', query: 'up', noData: 'Maybe' } }],
      ['guard.checks[0].prometheusQuery.noData: must be one of Pass, Fail, Wait'],
    ],
    [
      [{ name: 'a', redisCheck: { url: 'redis://r', command: ['FLUSHALL'] } }],
      [expect.stringMatching(/^guard.checks\[0\].redisCheck.command: FLUSHALL is not a read-only command/)],
    ],
    [
      [{ name: 'a', postgresCheck: { expectMatch: '(?<=x)' } }],
      [
        'guard.checks[0].postgresCheck: give url or urlFrom.secretKeyRef',
        expect.stringMatching(
          /^guard.checks\[0\].postgresCheck.expectMatch: not a valid RE2 regular expression/,
        ),
      ],
    ],
    [
      [{ name: 'a', rollout: { changedWithin: 'soon' } }],
      [expect.stringMatching(/^guard.checks\[0\].rollout.changedWithin: invalid duration "soon"/)],
    ],
  ])('%j', (checks, problems) => {
    expect(validateChecks(checks as Check[], 'guard.checks')).toEqual(problems);
  });
});
