/**
 * What the checks read, recorded, against the real Redis and PostgreSQL (the shared servers,
 * only read here), and postgresQuery's statement timeout enforced by PostgreSQL itself.
 */
import { describe, expect, it } from '@jest/globals';
import type { Step } from '../../../src/api/v1alpha1/schema.js';
import { getAction } from '../../../src/actions/index.js';
import { evaluateCheck } from '../../../src/actions/checks/evaluate.js';
import { actionCtx } from './helpers.js';

const REDIS_URL = process.env.KR_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const PG_URL = process.env.KR_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const run = (step: Omit<Step, 'name'>) =>
  getAction(step.action).apply(actionCtx({ namespace: 'default', step }), {
    name: 'step',
    action: step.action,
    phase: 'Running',
  });

describe('redisCheck records what it read', () => {
  it('INFO persistence is recorded; a line of it is matched', async () => {
    const out = await run({
      action: 'redisCheck',
      redisCheck: {
        url: REDIS_URL,
        command: ['INFO', 'persistence'],
        record: true,
        expectContains: '# Persistence',
        expectMatch: '(?m)^loading:0\\r?$',
      },
    });
    expect(out).toMatchObject({
      kind: 'done',
      message: expect.stringMatching(/^INFO on redis:\/\/127\.0\.0\.1:6379\/0 answered "# Persistence/),
    });
    const reply = (out as unknown as { output: { reply: string } }).output.reply;
    expect(reply).toMatch(/^# Persistence\r\n/);
    expect(reply).toMatch(/\r\nrdb_last_save_time:\d+\r\n/);
  });

  it('a reply that does not match keeps the step waiting, and what was read is recorded', async () => {
    const out = await run({
      action: 'redisCheck',
      redisCheck: {
        url: REDIS_URL,
        command: ['INFO', 'persistence'],
        record: true,
        expectMatch: '(?m)^loading:1',
      },
    });
    expect(out).toMatchObject({
      kind: 'inProgress',
      message: expect.stringMatching(/which does not match \/\(\?m\)\^loading:1\/$/),
      output: { reply: expect.stringMatching(/^# Persistence/) },
    });
  });

  it('as the check of a guard: one look, Met or NotMet, with the reply', async () => {
    const ctx = actionCtx({ namespace: 'default', step: { action: 'redisCheck' } });
    const check = (expectMatch: string) =>
      evaluateCheck(
        {
          name: 'aof',
          redisCheck: { url: REDIS_URL, command: ['INFO', 'persistence'], record: true, expectMatch },
        },
        ctx,
      );
    expect(await check('(?m)^loading:0')).toMatchObject({
      result: 'Met',
      output: { reply: expect.any(String) },
    });
    expect(await check('(?m)^loading:1')).toMatchObject({ result: 'NotMet' });
    expect(
      await evaluateCheck({ name: 'down', redisCheck: { url: 'redis://127.0.0.1:1/0' } }, ctx),
    ).toMatchObject({
      result: 'Error',
      message: expect.stringMatching(/^PING on redis:\/\/127\.0\.0\.1:1\/0: /),
    });
  });
});

describe('postgresCheck records rows', () => {
  it("pg_stat_activity's first rows are recorded with their columns", async () => {
    const out = await run({
      action: 'postgresCheck',
      postgresCheck: {
        url: PG_URL,
        query:
          "SELECT pid, backend_type, state, left(query, 80) AS query FROM pg_stat_activity WHERE pid = pg_backend_pid() OR backend_type <> 'client backend' ORDER BY pid = pg_backend_pid() DESC, pid",
        recordRows: 3,
        expectMatch: '^[0-9]+$',
      },
    });
    expect(out.kind).toBe('done');
    const output = (
      out as unknown as { output: { columns: string[]; rows: (string | null)[][]; rowCount: number } }
    ).output;
    expect(output.columns).toEqual(['pid', 'backend_type', 'state', 'query']);
    expect(output.rows.length).toBe(Math.min(3, output.rowCount));
    // the first row is this very check, reading pg_stat_activity in its read-only transaction
    expect(output.rows[0]).toEqual([
      expect.stringMatching(/^\d+$/),
      'client backend',
      'active',
      expect.stringMatching(/^SELECT pid, backend_type/),
    ]);
    expect(output.rowCount).toBeGreaterThan(1);
  });

  it('expectContains on the first value', async () => {
    expect(
      await run({
        action: 'postgresCheck',
        postgresCheck: { url: PG_URL, query: 'SELECT version()', expectContains: 'PostgreSQL' },
      }),
    ).toMatchObject({ kind: 'done' });
    expect(
      await run({
        action: 'postgresCheck',
        postgresCheck: { url: PG_URL, query: 'SELECT version()', expectContains: 'MySQL' },
      }),
    ).toMatchObject({ kind: 'inProgress', message: expect.stringMatching(/which does not contain "MySQL"/) });
  });
});

describe('postgresQuery.statementTimeout', () => {
  it('a statement that runs past it is cancelled by PostgreSQL and fails saying so', async () => {
    const out = await run({
      action: 'postgresQuery',
      postgresQuery: { url: PG_URL, query: 'SELECT pg_sleep(5)', statementTimeout: '1s' },
    });
    expect(out).toMatchObject({
      kind: 'failed',
      code: 'KR_ERR_TIMEOUT',
      reason: 'StatementTimeout',
      message: expect.stringMatching(
        /ran longer than its statementTimeout of 1s and PostgreSQL cancelled it .*raise postgresQuery.statementTimeout .*canceling statement due to statement timeout/,
      ),
    });
  });

  it('a statement within it runs; other sessions keep the 10 s default', async () => {
    expect(
      await run({
        action: 'postgresQuery',
        postgresQuery: { url: PG_URL, query: 'SELECT pg_sleep(1)', statementTimeout: '3s' },
      }),
    ).toMatchObject({ kind: 'done' });
    // The timeout is the session's: SHOW reads it back.
    const shown = await run({
      action: 'postgresCheck',
      postgresCheck: { url: PG_URL, query: 'SHOW statement_timeout', expect: '10s' },
    });
    expect(shown).toMatchObject({ kind: 'done' });
  });
});
