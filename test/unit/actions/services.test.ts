/**
 * The HTTP actions against a real local HTTP server (no mocks): checks wait, calls fail with
 * the right retryability, dry runs send nothing, silences are idempotent by stamp.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Step } from '../../../src/api/v1alpha1/schema.js';
import type { ActionContext } from '../../../src/actions/types.js';
import { getAction } from '../../../src/actions/index.js';
import { compareSamples, samplesOf } from '../../../src/actions/checks/prometheus-query.js';
import { redactUrl } from '../../../src/actions/services/url.js';
import { silenceBody } from '../../../src/actions/calls/silence.js';
import { httpCheckProblem } from '../../../src/actions/checks/http-check.js';
import { FakeClock } from '../../../src/util/clock.js';
import { silentLogger } from '../../../src/observability/logger.js';

interface Seen {
  method: string;
  url: string;
  body: string;
}
const seen: Seen[] = [];
/** The Idempotency-Key header of each request, in the order of `seen`. */
const keys: (string | undefined)[] = [];
const silences: { id: string; comment: string; status: { state: string } }[] = [];
let server: Server;
let base = '';

function route(req: IncomingMessage, body: string, res: ServerResponse): void {
  const json = (status: number, v: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(v));
  };
  const url = req.url ?? '';
  if (url === '/ok') return void res.writeHead(200).end('all good');
  if (url === '/down') return void res.writeHead(503).end('down');
  if (url === '/bad') return void res.writeHead(400).end('bad request');
  if (url.startsWith('/api/v1/query')) {
    const q = new URL(url, 'http://x').searchParams.get('query');
    if (q === 'broken(') return json(400, { status: 'error', error: 'parse error' });
    return json(200, {
      status: 'success',
      data: {
        resultType: 'vector',
        result: [{ metric: { pod: 'a' }, value: [1, q === 'high' ? '9' : '1'] }],
      },
    });
  }
  if (url === '/api/v2/silences' && req.method === 'GET') return json(200, silences);
  if (url === '/api/v2/silences' && req.method === 'POST') {
    const id = `s${silences.length + 1}`;
    silences.push({
      id,
      comment: (JSON.parse(body) as { comment: string }).comment,
      status: { state: 'active' },
    });
    return json(200, { silenceID: id });
  }
  if (url.startsWith('/api/v2/silence/')) return void res.writeHead(200).end();
  res.writeHead(404).end('not found');
}

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', body });
      keys.push(req.headers['idempotency-key'] as string | undefined);
      route(req, body, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});

function ctx(
  step: Step,
  dryRun = false,
  labels: Record<string, string> = { alertname: 'High', pod: 'a' },
): ActionContext {
  return {
    clients: undefined as never,
    remediation: {
      apiVersion: 'kube-remediator.io/v1alpha1',
      kind: 'Remediation',
      metadata: { name: 'r', namespace: 'ns', uid: 'u' },
      spec: { alert: { name: 'High', labels } },
    },
    stepIndex: 0,
    step,
    dryRun,
    attempt: 1,
    stamp: 'u/0/1',
    clock: new FakeClock(),
    log: silentLogger(),
    readSecret: (name, key) =>
      name === 'hook' && key === 'url'
        ? Promise.resolve(`${base}/ok`)
        : Promise.reject(new Error('no such secret')),
  };
}
const run = (s: Step, dryRun = false) =>
  getAction(s.action).apply(ctx(s, dryRun), { name: s.name, action: s.action, phase: 'Running' });

describe('httpCheck', () => {
  test.each([
    [{ url: '/ok' }, 'done'],
    [{ url: '/ok', bodyContains: 'good' }, 'done'],
    [{ url: '/ok', bodyContains: 'bad' }, 'inProgress'],
    [{ url: '/down' }, 'inProgress'],
    [{ url: '/down', expectStatus: [503] }, 'done'],
  ])('%j → %s', async (p, kind) => {
    const out = await run({ name: 'c', action: 'httpCheck', httpCheck: { ...p, url: `${base}${p.url}` } });
    expect(out.kind).toBe(kind);
  });
  test('unreachable waits and says why', async () => {
    const out = await run({ name: 'c', action: 'httpCheck', httpCheck: { url: 'http://127.0.0.1:1/x' } });
    expect(out).toMatchObject({
      kind: 'inProgress',
      message: expect.stringContaining('GET http://127.0.0.1:1/x'),
    });
  });
  test('problem text', () => {
    expect(httpCheckProblem({ status: 500, body: '' }, { url: 'x', expectStatus: [200, 204] })).toBe(
      'status 500, expected 200 or 204',
    );
  });
});

describe('httpCall', () => {
  test('5xx is retryable, 4xx is not', async () => {
    expect(await run({ name: 'c', action: 'httpCall', httpCall: { url: `${base}/down` } })).toMatchObject({
      kind: 'failed',
      reason: 'UnexpectedStatus',
      retryable: true,
    });
    expect(await run({ name: 'c', action: 'httpCall', httpCall: { url: `${base}/bad` } })).toMatchObject({
      kind: 'failed',
      retryable: false,
    });
    expect(
      await run({ name: 'c', action: 'httpCall', httpCall: { url: 'http://127.0.0.1:1/' } }),
    ).toMatchObject({ kind: 'failed', reason: 'Unreachable', retryable: true });
  });
  test("the request carries the step's stamp as Idempotency-Key, unless the step sets its own", async () => {
    expect((await run({ name: 'c', action: 'httpCall', httpCall: { url: `${base}/ok` } })).kind).toBe('done');
    expect(keys.at(-1)).toBe('u/0/1');
    const own = await run({
      name: 'c',
      action: 'httpCall',
      httpCall: { url: `${base}/ok`, headers: { 'idempotency-key': 'mine' } },
    });
    expect(own.kind).toBe('done');
    expect(keys.at(-1)).toBe('mine');
  });
  test('dry run sends nothing and says what would be sent', async () => {
    const before = seen.length;
    const out = await run(
      { name: 'c', action: 'httpCall', httpCall: { url: `${base}/ok?token=secret`, body: 'x' } },
      true,
    );
    expect(seen.length).toBe(before);
    expect(out.kind).toBe('done');
    expect(out.message).toMatch(/^dry run: would send POST .*\/ok\?\*\*\* with a 1-byte body$/);
  });
});

describe('notify', () => {
  test('without a url: done with the message only', async () => {
    expect(await run({ name: 'n', action: 'notify', notify: { message: 'hello' } })).toMatchObject({
      kind: 'done',
      message: 'hello',
    });
  });
  test('urlFrom a secret posts {text}', async () => {
    const out = await run({
      name: 'n',
      action: 'notify',
      notify: { message: 'hi there', urlFrom: { secretKeyRef: { name: 'hook', key: 'url' } } },
    });
    expect(out.kind).toBe('done');
    expect(seen.at(-1)).toEqual({ method: 'POST', url: '/ok', body: '{"text":"hi there"}' });
    expect(keys.at(-1)).toBe('u/0/1');
  });
  test('an unreadable secret fails naming the field', async () => {
    const out = await run({
      name: 'n',
      action: 'notify',
      notify: { message: 'x', urlFrom: { secretKeyRef: { name: 'nope', key: 'k' } } },
    });
    expect(out).toMatchObject({
      kind: 'failed',
      reason: 'SecretUnreadable',
      message: expect.stringMatching(/^notify.urlFrom:/),
    });
  });
});

describe('prometheusQuery', () => {
  test.each([
    ['low', { op: '<', value: 5 }, 'done'],
    ['high', { op: '<', value: 5 }, 'inProgress'],
    ['high', undefined, 'done'],
  ] as const)('%s %j → %s', async (query, expect_, kind) => {
    const out = await run({
      name: 'p',
      action: 'prometheusQuery',
      prometheusQuery: { url: base, query, ...(expect_ ? { expect: expect_ } : {}) },
    });
    expect(out.kind).toBe(kind);
  });
  test('a broken query fails at once', async () => {
    expect(
      await run({ name: 'p', action: 'prometheusQuery', prometheusQuery: { url: base, query: 'broken(' } }),
    ).toMatchObject({ kind: 'failed', reason: 'InvalidQuery', retryable: false });
  });
  test.each([
    [[], { op: '<', value: 1 }, false, 'no samples, expected every sample < 1'],
    [[{ labels: { a: 'b' }, value: 3 }], { op: '<', value: 1 }, false, 'sample {a="b"} 3 is not < 1'],
    [
      [
        { labels: {}, value: 0 },
        { labels: {}, value: 0.5 },
      ],
      { op: '<', value: 1 },
      true,
      'all 2 sample(s) < 1',
    ],
    [[{ labels: {}, value: 1 }], { op: '==', value: 1 }, true, 'all 1 sample(s) == 1'],
  ] as const)('compareSamples %#', (samples, expect_, pass, message) => {
    expect(compareSamples(samples, expect_)).toEqual({ pass, message });
  });
  test('samplesOf scalar and matrix', () => {
    expect(samplesOf({ resultType: 'scalar', result: [1, '2.5'] })).toEqual([{ labels: {}, value: 2.5 }]);
    expect(() => samplesOf({ resultType: 'matrix', result: [] })).toThrow(/instant vector or scalar/);
  });
});

describe('silence', () => {
  const s: Step = {
    name: 's',
    action: 'silence',
    silence: { alertmanagerUrl: '', duration: '30m', comment: 'flapping' },
  };
  test('body: a matcher per label, the duration, the stamp in the comment', () => {
    expect(
      silenceBody({ pod: 'a', alertname: 'High' }, new Date('2026-01-01T00:00:00Z'), '30m', 'why', 'u/0/1'),
    ).toEqual({
      matchers: [
        { name: 'alertname', value: 'High', isRegex: false, isEqual: true },
        { name: 'pod', value: 'a', isRegex: false, isEqual: true },
      ],
      startsAt: '2026-01-01T00:00:00.000Z',
      endsAt: '2026-01-01T00:30:00.000Z',
      createdBy: 'kube-remediator',
      comment: 'why [kube-remediator u/0/1]',
    });
  });
  test('apply twice creates one silence; revert expires it', async () => {
    const step = { ...s, silence: { ...s.silence!, alertmanagerUrl: base } };
    const first = await run(step);
    const second = await run(step);
    expect(first).toMatchObject({ kind: 'done', after: { silenceID: 's1' } });
    expect(second).toMatchObject({ kind: 'done', after: { silenceID: 's1' } });
    expect(silences).toHaveLength(1);
    const out = await getAction('silence').revert!(ctx(step), {
      name: 's',
      action: 'silence',
      phase: 'Succeeded',
      after: { silenceID: 's1' },
    });
    expect(out.kind).toBe('done');
    expect(seen.at(-1)).toMatchObject({ method: 'DELETE', url: '/api/v2/silence/s1' });
  });
  test('no alert labels: fails with a reason', async () => {
    const step = { ...s, silence: { ...s.silence!, alertmanagerUrl: base } };
    const out = await getAction('silence').apply(ctx(step, false, {}), {
      name: 's',
      action: 'silence',
      phase: 'Running',
    });
    expect(out).toMatchObject({ kind: 'failed', reason: 'NoAlertLabels' });
  });
});

test('redactUrl hides passwords and query strings', () => {
  expect(redactUrl('redis://:pw@redis:6379/0')).toBe('redis://:***@redis:6379/0');
  expect(redactUrl('postgres://u:p@db/app?sslmode=require')).toBe('postgres://u:***@db/app?***');
  expect(redactUrl('not a url')).toBe('<unparseable url>');
});
