/** What steps record: bounded, masked; JSON paths; httpCall's assertions; podLogs' choices. */
import { describe, expect, test } from '@jest/globals';
import { cutToBytes, maskSecrets, recordedText } from '../../../../src/actions/output.js';
import { jsonText, parseJsonPath, selectJsonPath } from '../../../../src/actions/services/json-path.js';
import {
  responseOutput,
  responseProblem,
  validateHttpCall,
} from '../../../../src/actions/calls/http-call.js';
import { choosePods, containerOf, keepLines } from '../../../../src/actions/checks/pod-logs.js';
import { LineSplitter } from '../../../../src/kube/pod-logs.js';
import type { KubeObject } from '../../../../src/kube/raw-object.js';

describe('bounds', () => {
  test.each([
    ['short', 10, 'short', false],
    ['0123456789abc', 10, '0123456…', true],
    // never inside a character: é is two bytes, 🙂 four
    ['ééééé', 7, 'éé…', true],
    ['ééééé', 6, 'é…', true],
    ['🙂🙂🙂', 9, '🙂…', true],
  ])('cutToBytes(%j, %d)', (text, max, cut, truncated) => {
    const got = cutToBytes(text, max);
    expect(got).toEqual({ text: cut, truncated });
    expect(Buffer.byteLength(got.text)).toBeLessThanOrEqual(max);
  });

  test('recordedText masks before it cuts', () => {
    expect(recordedText('url redis://app:s3cret@redis:6379/0', 4096).text).toBe(
      'url redis://app:***@redis:6379/0',
    );
  });
});

describe('maskSecrets', () => {
  test.each([
    ['postgres://app:hunter2@db:5432/app', 'postgres://app:***@db:5432/app'],
    ['redis://:pw@r:6379', 'redis://:***@r:6379'],
    ['Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc', 'Authorization: Bearer ***'],
    ['password=hunter2 user=app', 'password=*** user=app'],
    ['{"api_key": "abc123", "n": 1}', '{"api_key": "***", "n": 1}'],
    ['DB_PASSWORD: "x y"', 'DB_PASSWORD: "*** y"'],
    ['client_secret=abc&x=1', 'client_secret=***&x=1'],
    ["ALTER ROLE app WITH PASSWORD 'hunter2'", "ALTER ROLE app WITH PASSWORD '***'"],
    ['GET /health 200 12ms', 'GET /health 200 12ms'],
    // a word that only contains a keyword is left alone
    ['tokens processed: 12', 'tokens processed: 12'],
  ])('%j', (text, masked) => {
    expect(maskSecrets(text)).toBe(masked);
  });
});

describe('JSONPath singular queries', () => {
  const doc = { duplicate: true, items: [{ state: 'ok' }, { state: 'late' }], 'a.b': { "it's": 1 }, n: null };
  test.each([
    ['$', []],
    ['$.duplicate', ['duplicate']],
    ['$.items[1].state', ['items', 1, 'state']],
    ['$.items[-1]', ['items', -1]],
    ["$['a.b']", ['a.b']],
    ["$['a.b']['it\\'s']", ['a.b', "it's"]],
    ['$["x"]', ['x']],
    ['$._under9', ['_under9']],
  ])('parse %s', (path, parts) => {
    expect(parseJsonPath(path)).toEqual(parts);
  });

  test.each([
    ['duplicate', /expected \$ at position 0/],
    ['$.items[*]', /expected a quoted name or an integer index at position 8/],
    ['$..state', /expected a member name at position 2/],
    ['$.items[?(@.state)]', /expected a quoted name or an integer index/],
    ['$.items[0', /expected \] at position 9/],
    ["$['open", /unclosed quote/],
    ['$.a b', /unexpected " "/],
    ['$.items[01]', /expected \]/],
  ])('refuse %s', (path, why) => {
    expect(() => parseJsonPath(path)).toThrow(why);
  });

  test.each([
    ['$.duplicate', true, true],
    ['$.items[1].state', true, 'late'],
    ['$.items[-1].state', true, 'late'],
    ['$.items[2]', false, undefined],
    ["$['a.b']['it\\'s']", true, 1],
    ['$.n', true, null],
    ['$.missing', false, undefined],
    ['$.duplicate.x', false, undefined],
    ['$.items.state', false, undefined],
  ])('select %s', (path, found, value) => {
    expect(selectJsonPath(doc, parseJsonPath(path))).toEqual(found ? { found, value } : { found });
  });

  test.each([
    ['text', 'text'],
    [true, 'true'],
    [12.5, '12.5'],
    [null, 'null'],
    [{ a: [1] }, '{"a":[1]}'],
  ])('jsonText(%j)', (v, text) => {
    expect(jsonText(v)).toBe(text);
  });
});

describe('httpCall.expect', () => {
  const body = JSON.stringify({ duplicate: 'true', id: 7, ok: true });
  test.each([
    [body, undefined, undefined],
    [body, { json: [{ path: '$.duplicate', equals: 'true' }] }, undefined],
    [
      body,
      {
        json: [
          { path: '$.ok', equals: 'true' },
          { path: '$.id', equals: '7' },
        ],
      },
      undefined,
    ],
    [body, { json: [{ path: '$.id', equals: '8' }] }, '$.id is "7", expected "8"'],
    [body, { json: [{ path: '$.dup', equals: 'true' }] }, '$.dup is absent, expected "true"'],
    ['<html>', { json: [{ path: '$.x', equals: '1' }] }, /^the body is not JSON/],
    [body, { bodyContains: '"id":7' }, undefined],
    [body, { bodyContains: 'duplicate: true' }, 'the body does not contain "duplicate: true"'],
  ] as const)('%s with %j', (b, e, problem) => {
    const got = responseProblem(b, e as never);
    if (problem === undefined) expect(got).toBeUndefined();
    else if (typeof problem === 'string') expect(got).toBe(problem);
    else expect(got).toMatch(problem);
  });

  test('the response is recorded: the status; the start of the body, masked, only with expect', () => {
    expect(responseOutput({ status: 200, body: 'x' }, false)).toEqual({ status: 200 });
    expect(responseOutput({ status: 409, body: '{"token":"abc"}' }, true)).toEqual({
      status: 409,
      body: '{"token":"***"}',
    });
    const long = responseOutput({ status: 200, body: 'y'.repeat(10_000) }, true) as { body: string };
    expect(long).toMatchObject({ truncated: true });
    expect(Buffer.byteLength(long.body)).toBeLessThanOrEqual(4096);
  });

  test.each([
    [{ url: 'http://x', expect: { json: [{ path: '$.a', equals: '1' }] } }, []],
    [
      { url: 'http://x', expectStatus: [200], expect: { status: [201] } },
      ['httpCall.expect.status: give the statuses here or in httpCall.expectStatus, not both'],
    ],
    [
      { url: 'http://x', expect: { json: [{ path: '$.a[*]', equals: '1' }] } },
      [expect.stringMatching(/^httpCall.expect.json\[0\].path: expected a quoted name or an integer index/)],
    ],
  ])('validate %j', (p, problems) => {
    expect(validateHttpCall({ name: 's', action: 'httpCall', httpCall: p })).toEqual(problems);
  });
});

function pod(
  name: string,
  opts: {
    ready?: boolean;
    restarts?: number;
    containers?: string[];
    annotations?: Record<string, string>;
  } = {},
): KubeObject {
  const containers = opts.containers ?? ['app'];
  return {
    metadata: { name, namespace: 'ns', ...(opts.annotations ? { annotations: opts.annotations } : {}) },
    spec: { containers: containers.map((c) => ({ name: c })) },
    status: {
      containerStatuses: containers.map((c) => ({
        name: c,
        ready: opts.ready ?? true,
        restartCount: opts.restarts ?? 0,
      })),
    },
  };
}

describe('podLogs', () => {
  test('the troubled pods first (not ready, then restarts), then by name, at most maxPods', () => {
    const pods = [
      pod('web-c'),
      pod('web-a'),
      pod('web-b', { restarts: 4 }),
      pod('web-d', { ready: false }),
      pod('web-e', { restarts: 9 }),
    ];
    expect(choosePods(pods, 3).map((p) => p.metadata?.name)).toEqual(['web-d', 'web-e', 'web-b']);
    expect(choosePods(pods, 10).map((p) => p.metadata?.name)).toEqual([
      'web-d',
      'web-e',
      'web-b',
      'web-a',
      'web-c',
    ]);
    // a pod without container statuses (not started yet) counts as not ready
    expect(choosePods([pod('a'), { metadata: { name: 'b' } }], 1).map((p) => p.metadata?.name)).toEqual([
      'b',
    ]);
  });

  test.each([
    [pod('p', { containers: ['app', 'sidecar'] }), undefined, { name: 'app' }],
    [pod('p', { containers: ['app', 'sidecar'] }), 'sidecar', { name: 'sidecar' }],
    [pod('p', { containers: ['app'] }), 'nope', { error: 'no container "nope" (it has app)' }],
    [
      pod('p', {
        containers: ['istio', 'app'],
        annotations: { 'kubectl.kubernetes.io/default-container': 'app' },
      }),
      undefined,
      { name: 'app' },
    ],
    [pod('p', { containers: [] }), undefined, { error: 'the pod has no containers' }],
  ])('containerOf %#', (p, wanted, chosen) => {
    expect(containerOf(p, wanted)).toEqual(chosen);
  });

  const log = ['start', 'GET / 200', 'GET /a 503', 'GET /b 200', 'GET /c 503 upstream timeout', ''];
  test.each([
    // the trailing empty line of a log ending in a newline is no line
    [log, undefined, 1000, { lines: log.slice(0, 5), matched: 5, truncated: false }],
    [
      log,
      '\\b503\\b',
      1000,
      { lines: ['GET /a 503', 'GET /c 503 upstream timeout'], matched: 2, truncated: false },
    ],
    [
      log,
      'timeout|^start$',
      1000,
      { lines: ['start', 'GET /c 503 upstream timeout'], matched: 2, truncated: false },
    ],
    [log, 'nothing', 1000, { lines: [], matched: 0, truncated: false }],
    // the newest lines are kept within the budget (JSON size: quotes and a comma per line)
    [
      log,
      undefined,
      45,
      { lines: ['GET /b 200', 'GET /c 503 upstream timeout'], matched: 5, truncated: true },
    ],
    [log, undefined, 42, { lines: ['GET /c 503 upstream timeout'], matched: 5, truncated: true }],
    [log, undefined, 0, { lines: [], matched: 5, truncated: true }],
  ] as const)('keepLines %#', (lines, match, budget, kept) => {
    expect(keepLines(lines, match, budget)).toEqual(kept);
  });

  test('kept lines are masked', () => {
    expect(keepLines(['connecting to postgres://app:pw@db/app'], undefined, 1000).lines).toEqual([
      'connecting to postgres://app:***@db/app',
    ]);
  });

  test('the line splitter cuts long lines and keeps multi-byte characters whole across chunks', () => {
    const split = new LineSplitter(8);
    const bytes = Buffer.from('short\r\n0123456789abcdef\nhé', 'utf8');
    // one byte at a time: the worst case for chunk boundaries
    for (const b of bytes) split.push(Buffer.from([b]));
    split.finish();
    expect(split.lines).toEqual(['short', '01234567…', 'hé']);
  });
});
