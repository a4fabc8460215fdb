/** Redis and PostgreSQL actions against the shared servers (never stopped here), and dead ports. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Step } from '../../../src/api/v1alpha1/schema.js';
import { getAction } from '../../../src/actions/index.js';
import { createNamespace, deleteNamespace, testClients } from '../../support/kube.js';
import { actionCtx } from './helpers.js';

const REDIS_URL = process.env.KR_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const PG_URL = process.env.KR_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const DEAD_REDIS = 'redis://127.0.0.1:1/0';
const DEAD_PG = 'postgres://postgres@127.0.0.1:1/test';

describe('service actions', () => {
  let ns: string;
  const key = `kr-e2e-actions:${randomBytes(4).toString('hex')}`;
  const redis = new Redis(REDIS_URL, { lazyConnect: true });
  const run = (step: Omit<Step, 'name'>, dryRun = false) =>
    getAction(step.action).apply(actionCtx({ namespace: ns, step, dryRun }), {
      name: 'step',
      action: step.action,
      phase: 'Running',
    });

  beforeAll(async () => {
    ns = await createNamespace('act-svc');
    await testClients().core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: 'conn' }, stringData: { redis: REDIS_URL, pg: PG_URL } },
    });
    await redis.connect();
  });
  afterAll(async () => {
    await redis.del(key);
    redis.disconnect();
    await deleteNamespace(ns);
  });

  it('redisCheck: PING answers PONG; a url from a Secret works', async () => {
    expect(await run({ action: 'redisCheck', redisCheck: { url: REDIS_URL } })).toMatchObject({
      kind: 'done',
      message: expect.stringMatching(/answered "PONG"/),
    });
    expect(
      await run({
        action: 'redisCheck',
        redisCheck: { urlFrom: { secretKeyRef: { name: 'conn', key: 'redis' } } },
      }),
    ).toMatchObject({ kind: 'done' });
  });

  it('redisCommand runs the command; in a dry run it is skipped', async () => {
    await redis.set(key, 'v');
    const dry = await run(
      { action: 'redisCommand', redisCommand: { url: REDIS_URL, command: ['DEL', key] } },
      true,
    );
    expect(dry).toMatchObject({ kind: 'done', message: expect.stringMatching(/^dry run: would run DEL /) });
    expect(await redis.exists(key)).toBe(1);
    expect(
      await run({ action: 'redisCommand', redisCommand: { url: REDIS_URL, command: ['DEL', key] } }),
    ).toMatchObject({ kind: 'done', after: { reply: '1' } });
    expect(await redis.exists(key)).toBe(0);
    expect(
      await run({
        action: 'redisCheck',
        redisCheck: { url: REDIS_URL, command: ['EXISTS', key], expect: '1' },
      }),
    ).toMatchObject({ kind: 'inProgress' });
  });

  it('a Redis error reply fails without retry; a dead server fails fast and retryably', async () => {
    await redis.set(key, 'string');
    expect(
      await run({ action: 'redisCommand', redisCommand: { url: REDIS_URL, command: ['LPUSH', key, 'x'] } }),
    ).toMatchObject({ kind: 'failed', reason: 'CommandError', retryable: false });
    const started = Date.now();
    expect(
      await run({ action: 'redisCommand', redisCommand: { url: DEAD_REDIS, command: ['PING'] } }),
    ).toMatchObject({ kind: 'failed', reason: 'Unreachable', retryable: true });
    expect(await run({ action: 'redisCheck', redisCheck: { url: DEAD_REDIS } })).toMatchObject({
      kind: 'inProgress',
    });
    expect(Date.now() - started).toBeLessThan(8000);
  });

  it('postgresCheck compares the first value; postgresQuery reports rows and SQL errors', async () => {
    expect(await run({ action: 'postgresCheck', postgresCheck: { url: PG_URL } })).toMatchObject({
      kind: 'done',
      message: expect.stringMatching(/answered "1"/),
    });
    expect(
      await run({
        action: 'postgresCheck',
        postgresCheck: {
          urlFrom: { secretKeyRef: { name: 'conn', key: 'pg' } },
          query: 'SELECT 2',
          expect: '3',
        },
      }),
    ).toMatchObject({ kind: 'inProgress', message: expect.stringMatching(/answered "2", expected "3"/) });
    expect(
      await run({
        action: 'postgresQuery',
        postgresQuery: { url: PG_URL, query: 'CREATE TEMP TABLE t (x int); INSERT INTO t VALUES (1), (2)' },
      }),
    ).toMatchObject({ kind: 'done', after: { rowCount: 2 } });
    expect(
      await run({
        action: 'postgresQuery',
        postgresQuery: { url: PG_URL, query: 'SELECT * FROM no_such_table_kr' },
      }),
    ).toMatchObject({ kind: 'failed', reason: 'QueryError', retryable: false });
    expect(
      await run({ action: 'postgresQuery', postgresQuery: { url: PG_URL, query: 'DELETE FROM x' } }, true),
    ).toMatchObject({ kind: 'done', message: expect.stringMatching(/^dry run: would run statement/) });
  });

  it('redisCheck only reads: a write command is refused before it is sent', async () => {
    await redis.set(key, 'kept');
    for (const command of [
      ['DEL', key],
      ['set', key, 'x'],
      ['FLUSHDB'],
      ['EVAL', `return redis.call('DEL', '${key}')`, '0'],
    ]) {
      expect(
        await run({ action: 'redisCheck', redisCheck: { url: REDIS_URL, command } }, true),
      ).toMatchObject({
        kind: 'failed',
        reason: 'NotReadOnly',
        code: 'KR_ERR_ACTION_REFUSED',
        retryable: false,
        message: expect.stringMatching(/Use the redisCommand action for writes$/),
      });
    }
    expect(await redis.get(key)).toBe('kept');
    expect(
      await run({
        action: 'redisCheck',
        redisCheck: { url: REDIS_URL, command: ['STRLEN', key], expect: '4' },
      }),
    ).toMatchObject({ kind: 'done' });
  });

  it('postgresCheck runs read-only, one statement, and rolls back', async () => {
    const table = `kr_e2e_check_${randomBytes(4).toString('hex')}`;
    const setup = await run({
      action: 'postgresQuery',
      postgresQuery: { url: PG_URL, query: `CREATE TABLE ${table} (x int); INSERT INTO ${table} VALUES (1)` },
    });
    expect(setup).toMatchObject({ kind: 'done' });
    try {
      const count = {
        action: 'postgresCheck',
        postgresCheck: { url: PG_URL, query: `SELECT count(*) FROM ${table}`, expect: '1' },
      } as const;
      for (const query of [
        `DELETE FROM ${table}`,
        `INSERT INTO ${table} VALUES (2)`,
        `CREATE TABLE ${table}_2 (x int)`,
        `WITH d AS (DELETE FROM ${table} RETURNING 1) SELECT count(*) FROM d`,
      ]) {
        expect(
          await run({ action: 'postgresCheck', postgresCheck: { url: PG_URL, query } }, true),
        ).toMatchObject({
          kind: 'failed',
          reason: 'NotReadOnly',
          code: 'KR_ERR_ACTION_REFUSED',
          retryable: false,
          message: expect.stringMatching(/use postgresQuery for writes/),
        });
      }
      // Several statements cannot step out of the read-only transaction with COMMIT.
      expect(
        await run({
          action: 'postgresCheck',
          postgresCheck: { url: PG_URL, query: `COMMIT; DELETE FROM ${table}` },
        }),
      ).toMatchObject({
        kind: 'failed',
        reason: 'NotReadOnly',
        message: expect.stringMatching(/exactly one statement/),
      });
      expect(await run(count)).toMatchObject({
        kind: 'done',
        message: expect.stringMatching(/answered "1"/),
      });
    } finally {
      await run({ action: 'postgresQuery', postgresQuery: { url: PG_URL, query: `DROP TABLE ${table}` } });
    }
  });

  it('a dead Postgres fails fast and retryably', async () => {
    const started = Date.now();
    expect(
      await run({ action: 'postgresQuery', postgresQuery: { url: DEAD_PG, query: 'SELECT 1' } }),
    ).toMatchObject({ kind: 'failed', reason: 'Unreachable', retryable: true });
    expect(await run({ action: 'postgresCheck', postgresCheck: { url: DEAD_PG } })).toMatchObject({
      kind: 'inProgress',
    });
    expect(Date.now() - started).toBeLessThan(8000);
  });
});
