/** The decisions of the check reads, as tables: no data, ratios, text expectations, outcomes. */
import { describe, expect, test } from '@jest/globals';
import {
  judgeSamples,
  parsePromValue,
  prometheusQueryProblems,
  promQueryOf,
  ratioQuery,
  samplesOf,
  samplesOutput,
  type Sample,
} from '../../../../src/actions/checks/prometheus-query.js';
import { textProblem, validateTextExpect } from '../../../../src/actions/checks/text-expect.js';
import { notMet, met, stepOutcome, troubled, broken } from '../../../../src/actions/checks/reading.js';
import { failed } from '../../../../src/actions/outcome.js';
import { redisCheckProblems } from '../../../../src/actions/checks/redis-check.js';
import { rowsOutput } from '../../../../src/actions/checks/postgres-check.js';

const s = (value: number, labels: Record<string, string> = {}): Sample => ({ labels, value });

describe('prometheusQuery: what no data means', () => {
  // [samples, expect, noData, result, settled, message]
  test.each([
    [[], undefined, 'Pass', 'Met', false, 'no samples: no data, which passes (noData: Pass)'],
    [[], undefined, 'Fail', 'NotMet', true, 'no samples: no data, which fails (noData: Fail)'],
    [[], undefined, 'Wait', 'NotMet', false, 'no samples: no data yet (noData: Wait)'],
    [[], { op: '<', value: 0.01 }, 'Pass', 'Met', false, 'no samples: no data, which passes (noData: Pass)'],
    [[], { op: '<', value: 0.01 }, 'Fail', 'NotMet', true, 'no samples: no data, which fails (noData: Fail)'],
    [[], { op: '<', value: 0.01 }, 'Wait', 'NotMet', false, 'no samples: no data yet (noData: Wait)'],
    // 0/0: an error rate without traffic is NaN, which is no data too
    [
      [s(NaN)],
      { op: '<', value: 0.01 },
      'Pass',
      'Met',
      false,
      'only NaN (1 sample(s)): no data, which passes (noData: Pass)',
    ],
    [
      [s(NaN)],
      { op: '<', value: 0.01 },
      'Fail',
      'NotMet',
      true,
      'only NaN (1 sample(s)): no data, which fails (noData: Fail)',
    ],
    [
      [s(NaN), s(NaN)],
      { op: '>', value: 0 },
      'Wait',
      'NotMet',
      false,
      'only NaN (2 sample(s)): no data yet (noData: Wait)',
    ],
    // NaN samples beside real ones are left out; the real ones decide
    [
      [s(NaN, { r: 'a' }), s(0.001, { r: 'b' })],
      { op: '<', value: 0.01 },
      'Fail',
      'Met',
      false,
      'all 1 sample(s) < 0.01',
    ],
    [
      [s(NaN, { r: 'a' }), s(0.2, { r: 'b' })],
      { op: '<', value: 0.01 },
      'Pass',
      'NotMet',
      false,
      'sample {r="b"} 0.2 is not < 0.01',
    ],
    // data present: noData plays no part
    [[s(150)], { op: '>', value: 120 }, 'Fail', 'Met', false, 'all 1 sample(s) > 120'],
    [[s(30)], { op: '>', value: 120 }, 'Fail', 'NotMet', false, 'sample 30 is not > 120'],
    [[s(30)], undefined, 'Fail', 'Met', false, '1 sample(s)'],
    [[s(Infinity)], { op: '>', value: 1 }, 'Fail', 'Met', false, 'all 1 sample(s) > 1'],
  ] as const)('%j %j noData %s → %s', (samples, expect_, noData, result, settled, message) => {
    expect(judgeSamples(samples, expect_, noData)).toEqual({ result, settled, message });
  });

  test.each([
    ['1', 1],
    ['0.05', 0.05],
    ['1e3', 1000],
    ['+Inf', Infinity],
    ['-Inf', -Infinity],
    ['NaN', NaN],
  ])('parsePromValue(%s)', (text, value) => {
    expect(parsePromValue(text)).toBe(value);
  });

  test('samplesOf reads NaN and +Inf as Prometheus writes them', () => {
    const data = {
      resultType: 'vector',
      result: [
        { metric: { a: '1' }, value: [1, 'NaN'] },
        { metric: { a: '2' }, value: [1, '+Inf'] },
      ],
    };
    expect(samplesOf(data).map((x) => x.value)).toEqual([NaN, Infinity]);
    expect(samplesOutput(samplesOf(data))).toEqual({
      samples: [
        { labels: { a: '1' }, value: 'NaN' },
        { labels: { a: '2' }, value: '+Inf' },
      ],
    });
  });

  test('the output keeps the first 10 samples and says how many there were', () => {
    const many = Array.from({ length: 12 }, (_, i) => s(i, { i: String(i) }));
    const out = samplesOutput(many) as { samples: unknown[]; sampleCount: number; truncated: boolean };
    expect(out.samples).toHaveLength(10);
    expect(out).toMatchObject({ sampleCount: 12, truncated: true });
  });
});

describe('prometheusQuery: ratios', () => {
  test('a missing numerator counts as 0; a zero denominator is dropped (no data)', () => {
    expect(ratioQuery({ numerator: 'sum(rate(e[5m]))', denominator: 'sum(rate(t[5m]))' })).toBe(
      '((sum(rate(e[5m]))) or (0 * (sum(rate(t[5m]))))) / ((sum(rate(t[5m]))) != 0)',
    );
    expect(promQueryOf({ query: 'up' })).toBe('up');
    expect(promQueryOf({ ratio: { numerator: 'a', denominator: 'b' } })).toBe(
      '((a) or (0 * (b))) / ((b) != 0)',
    );
  });

  test.each([
    [{ url: 'http://p', query: 'up' }, []],
    [{ url: 'http://p', ratio: { numerator: 'a', denominator: 'b' } }, []],
    [{ url: 'http://p' }, ['prometheusQuery.query: give a PromQL query (or a ratio)']],
    [
      { url: 'http://p', query: 'up', ratio: { numerator: 'a', denominator: 'b' } },
      ['prometheusQuery: give query or ratio, not both'],
    ],
    [
      { url: 'http://p', ratio: { numerator: ' ', denominator: 'b' } },
      ['prometheusQuery.ratio.numerator: give the PromQL of the part'],
    ],
    [
      { url: 'http://p', query: 'up', noData: 'Maybe' },
      ['prometheusQuery.noData: must be one of Pass, Fail, Wait'],
    ],
    [{ url: 'ftp://p', query: 'up' }, ['prometheusQuery.url: must be an http:// or https:// URL']],
  ])('problems of %j', (p, problems) => {
    expect(prometheusQueryProblems(p as never)).toEqual(problems);
  });
});

describe('text expectations (redisCheck, postgresCheck)', () => {
  const info =
    '# Persistence\r\nloading:0\r\nrdb_last_bgsave_status:ok\r\naof_enabled:1\r\naof_last_write_status:err\r\n';
  test.each([
    ['PONG', { expect: 'PONG' }, undefined],
    ['PONG', { expect: 'pong' }, 'answered "PONG", expected "pong"'],
    [info, { expectContains: 'rdb_last_bgsave_status:ok' }, undefined],
    [
      info,
      { expectContains: 'aof_last_write_status:ok' },
      /which does not contain "aof_last_write_status:ok"$/,
    ],
    [info, { expectMatch: '(?m)^aof_enabled:1\\r?$' }, undefined],
    [info, { expectMatch: '(?m)^aof_last_write_status:ok\\r?$' }, /which does not match/],
    // matched anywhere, not anchored
    ['connected_clients:12', { expectMatch: 'clients:[0-9]+' }, undefined],
    // every expectation given must hold
    ['abc', { expect: 'abc', expectContains: 'b', expectMatch: '^a' }, undefined],
    ['abc', { expect: 'abc', expectContains: 'z' }, /does not contain "z"/],
    // RE2 syntax: case-insensitive flag group, as in Prometheus
    ['ERROR: disk', { expectMatch: '(?i)error' }, undefined],
  ] as const)('%j with %j', (text, e, problem) => {
    const got = textProblem(text, e);
    if (problem === undefined) expect(got).toBeUndefined();
    else if (typeof problem === 'string') expect(got).toBe(problem);
    else expect(got).toMatch(problem);
  });

  test('a reply is quoted on one line, its start only', () => {
    expect(textProblem(`${'x'.repeat(300)}\nmore`, { expect: 'y' })).toBe(
      `answered "${'x'.repeat(200)}…", expected "y"`,
    );
    expect(textProblem('a\r\nb', { expect: 'y' })).toBe('answered "a\\nb", expected "y"');
  });

  test.each([
    ['(?m)^ok$', []],
    ['(?=x)', [/redisCheck.expectMatch: not a valid RE2 regular expression: .*\(\?=/]],
    ['(a)\\1', [/redisCheck.expectMatch: not a valid RE2 regular expression: .*\\1/]],
    ['[unclosed', [/redisCheck.expectMatch: not a valid RE2 regular expression/]],
  ] as const)('expectMatch %s', (pattern, problems) => {
    const got = validateTextExpect({ expectMatch: pattern }, 'redisCheck');
    expect(got).toHaveLength(problems.length);
    problems.forEach((p, i) => expect(got[i]).toMatch(p));
  });

  test('redisCheck problems: the url, read-only commands, the pattern', () => {
    expect(
      redisCheckProblems({ url: 'redis://r:6379', command: ['INFO', 'persistence'], record: true }),
    ).toEqual([]);
    expect(redisCheckProblems({ url: 'http://r', command: ['FLUSHDB'], expectMatch: '(' })).toEqual([
      'redisCheck.url: must start with redis:// or rediss://',
      expect.stringMatching(/^redisCheck.command: FLUSHDB is not a read-only command/),
      expect.stringMatching(/^redisCheck.expectMatch: not a valid RE2/),
    ]);
  });
});

describe('postgresCheck: recorded rows', () => {
  test('rows with their columns; NULL stays null; the count of all rows', () => {
    expect(
      rowsOutput({
        columns: ['pid', 'state'],
        rows: [
          ['1', 'active'],
          ['2', null],
        ],
        rowCount: 2,
      }),
    ).toEqual({
      columns: ['pid', 'state'],
      rows: [
        ['1', 'active'],
        ['2', null],
      ],
      rowCount: 2,
    });
  });
  test('more rows than recorded is marked truncated', () => {
    expect(rowsOutput({ columns: ['x'], rows: [['1']], rowCount: 5 })).toMatchObject({
      rowCount: 5,
      truncated: true,
    });
  });
  test('a wide value is cut; rows stop before 4 KiB; secrets are masked', () => {
    const wide = 'q'.repeat(2000);
    const out = rowsOutput({
      columns: ['query'],
      rows: Array.from({ length: 20 }, () => [wide]),
      rowCount: 20,
    }) as { rows: string[][]; truncated: boolean };
    expect(out.truncated).toBe(true);
    expect(out.rows[0]![0]!.length).toBeLessThanOrEqual(512);
    expect(out.rows[0]![0]!.endsWith('…')).toBe(true);
    expect(JSON.stringify(out).length).toBeLessThan(4096 + 200);
    const secret = rowsOutput({
      columns: ['query'],
      rows: [["ALTER ROLE app PASSWORD 'hunter2'"]],
      rowCount: 1,
    });
    expect(JSON.stringify(secret)).not.toContain('hunter2');
  });
});

describe('a check step makes of a reading', () => {
  const out = { reply: 'x' };
  test.each([
    [met('ok', out), { kind: 'done', message: 'ok', output: out }],
    [notMet('not yet', out), { kind: 'inProgress', message: 'not yet', output: out }],
    // noData: Fail is a verdict: the step fails now (retries, if any, look again later)
    [
      notMet('no data', out, 'NoData'),
      { kind: 'failed', reason: 'NoData', retryable: true, code: 'KR_ERR_ACTION_FAILED', output: out },
    ],
    // a passing trouble (unreachable, 5xx) is polled through until the step timeout
    [troubled('unreachable'), { kind: 'inProgress', message: 'unreachable' }],
    // a check that cannot work as written fails at once
    [
      broken(failed('KR_ERR_INVALID_PARAM', 'InvalidQuery', 'rejected', false)),
      { kind: 'failed', reason: 'InvalidQuery', retryable: false, message: 'rejected' },
    ],
  ] as const)('%j', (reading, outcome) => {
    expect(stepOutcome(reading)).toMatchObject(outcome);
  });
});
