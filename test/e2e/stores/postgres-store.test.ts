/**
 * PostgresLimitStore against the shared PostgreSQL (a schema unique to this run, dropped at
 * the end), and FallbackStore against a private PostgreSQL that the test stops and starts.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import pg from 'pg';
import { loadConfig } from '../../../src/config/config.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { FallbackStore } from '../../../src/stores/fallback.js';
import { createLimitStore } from '../../../src/stores/index.js';
import { PostgresLimitStore } from '../../../src/stores/postgres.js';
import type { LimitStore } from '../../../src/stores/types.js';
import { startPostgres, type TestPostgres } from '../../support/services.js';
import { capturingLogger, metricValue } from '../../unit/stores/helpers.js';
import { limitStoreContract } from './contract.js';

const SHARED_URL = process.env.KR_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `kr_test_${randomUUID().replace(/-/g, '')}`;
const opened: LimitStore[] = [];
let n = 0;
const nextSchema = () => `${schema}_${n++}`;

afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  const client = new pg.Client(SHARED_URL);
  await client.connect();
  try {
    const res = await client.query<{ nspname: string }>(
      `SELECT nspname FROM pg_namespace WHERE nspname LIKE $1`,
      [`${schema}%`],
    );
    for (const r of res.rows) await client.query(`DROP SCHEMA "${r.nspname}" CASCADE`);
  } finally {
    await client.end();
  }
});

describe('PostgresLimitStore (shared PostgreSQL)', () => {
  // A long timeout: the pool's also bounds the wait for a free connection, and the contract
  // sends 100 calls at once through 5 connections (a loaded machine must not fail them).
  limitStoreContract(
    (clock) =>
      new PostgresLimitStore({
        url: SHARED_URL,
        schema: nextSchema(),
        logger: silentLogger(),
        clock,
        timeoutMs: 15_000,
      }),
    opened,
  );

  it('deletes expired rows in its cleanup', async () => {
    const s = new PostgresLimitStore({ url: SHARED_URL, schema: nextSchema(), logger: silentLogger() });
    opened.push(s);
    await s.claim('short', 'a', 50);
    await s.claim('long', 'a', 60_000);
    await new Promise((r) => setTimeout(r, 150));
    expect(await s.cleanup()).toBe(1);
    await expect(s.claim('long', 'b', 1000)).resolves.toEqual({ acquired: false, owner: 'a' });
  });

  it('claims and counts a new alert in one statement, in one transaction', async () => {
    const sch = nextSchema();
    const s = new PostgresLimitStore({ url: SHARED_URL, schema: sch, logger: silentLogger() });
    opened.push(s);
    await s.ping();
    const query = jest.spyOn((s as unknown as { pool: pg.Pool }).pool, 'query');
    const request = {
      cooldown: { key: 'one', owner: 'a', ttlMs: 60_000 },
      rate: { key: 'one-r', windowMs: 3_600_000 },
    };
    await expect(s.claimAndIncrement(request)).resolves.toEqual({
      claim: { acquired: true, owner: 'a' },
      count: 1,
      windowStart: expect.any(Number),
    });
    // Refused, too, is one statement (claim() takes two).
    await expect(
      s.claimAndIncrement({ ...request, cooldown: { ...request.cooldown, owner: 'b' } }),
    ).resolves.toEqual({ claim: { acquired: false, owner: 'a' } });
    expect(query).toHaveBeenCalledTimes(2);
    query.mockRestore();

    // A count that fails (here: integer overflow) takes back the claim made in the same call.
    const db = new pg.Client(SHARED_URL);
    await db.connect();
    try {
      await db.query(
        `UPDATE "${sch}".kube_remediator_counters SET count = 2147483647 WHERE key LIKE 'one-r|%'`,
      );
    } finally {
      await db.end();
    }
    await expect(
      s.claimAndIncrement({ ...request, cooldown: { ...request.cooldown, key: 'two' } }),
    ).rejects.toThrow(/out of range/);
    await expect(s.claim('two', 'b', 60_000)).resolves.toEqual({ acquired: true, owner: 'b' });
  });

  it('a group of admissions is one statement, and batches and single calls on the same rows never deadlock', async () => {
    const sch = nextSchema();
    const s = new PostgresLimitStore({ url: SHARED_URL, schema: sch, logger: silentLogger() });
    opened.push(s);
    await s.ping();
    const req = (key: string, owner: string, rate = 'dl-r') => ({
      cooldown: { key, owner, ttlMs: 60_000 },
      rate: { key: rate, windowMs: 3_600_000 },
    });
    const query = jest.spyOn((s as unknown as { pool: pg.Pool }).pool, 'query');
    await s.claimAndIncrementMany([req('g1', 'a'), req('g2', 'a'), req('g3', 'a')]);
    expect(query).toHaveBeenCalledTimes(1);
    query.mockRestore();
    // Each round: two batches in opposite orders and single calls, on the same claims and two
    // counters, on separate connections. Locks taken claim-then-counter in a different order
    // per call would make PostgreSQL abort one of them (40P01).
    for (let round = 0; round < 20; round++) {
      const [a, b] = [`a${round}`, `b${round}`];
      const answers = await Promise.all([
        s.claimAndIncrementMany([req(a, 'x', 'dl-1'), req(b, 'x', 'dl-2')]),
        s.claimAndIncrementMany([req(b, 'y', 'dl-2'), req(a, 'y', 'dl-1')]),
        s.claimAndIncrement(req(b, 'z', 'dl-1')),
        s.claimAndIncrement(req(a, 'w', 'dl-2')),
      ]);
      const claims = answers.flatMap((x) => (Array.isArray(x) ? x : [x])).map((x) => x.claim!);
      // one winner per claim key, every answer naming it
      expect(new Set(claims.filter((c) => c.acquired).map((c) => c.owner)).size).toBeLessThanOrEqual(2);
      expect(claims.filter((c) => c.acquired)).toHaveLength(2);
    }
  });

  it('creates its function again when it went away (a restored database, or one set up by an older release)', async () => {
    const sch = nextSchema();
    const s = new PostgresLimitStore({ url: SHARED_URL, schema: sch, logger: silentLogger() });
    opened.push(s);
    await s.ping();
    const db = new pg.Client(SHARED_URL);
    await db.connect();
    try {
      await db.query(`DROP FUNCTION "${sch}".kube_remediator_claim_and_count`);
    } finally {
      await db.end();
    }
    await expect(
      s.claimAndIncrement({
        cooldown: { key: 'f', owner: 'a', ttlMs: 60_000 },
        rate: { key: 'f-r', windowMs: 3_600_000 },
      }),
    ).resolves.toEqual({ claim: { acquired: true, owner: 'a' }, count: 1, windowStart: expect.any(Number) });
  });

  it('creates its tables at start, and a second replica can start on them concurrently', async () => {
    const shared = nextSchema();
    const replicas = Array.from(
      { length: 5 },
      () => new PostgresLimitStore({ url: SHARED_URL, schema: shared, logger: silentLogger() }),
    );
    opened.push(...replicas);
    await Promise.all(replicas.map((r) => r.ping()));
    const results = await Promise.all(replicas.map((r, i) => r.claim('k', `r${i}`, 60_000)));
    expect(results.filter((r) => r.acquired)).toHaveLength(1);
  });

  it('createLimitStore builds a Postgres store behind the fallback from the config', async () => {
    const config = loadConfig({
      env: {},
      overrides: { 'store.kind': 'postgres', 'store.postgresUrl': SHARED_URL },
    });
    const s = await createLimitStore(config, { logger: silentLogger() });
    opened.push(s);
    expect(s.kind).toBe('postgres');
    expect((s as FallbackStore).inFallback).toBe(false);
    // This one writes to the public schema of the test database: use a key of its own.
    await expect(s.claim(`factory-${schema}`, 'a', 1000)).resolves.toEqual({ acquired: true, owner: 'a' });
  });
});

describe('FallbackStore over a PostgreSQL that goes away', () => {
  let server: TestPostgres;
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await server?.destroy();
  });

  it('falls back at once, fails no call, and returns when PostgreSQL is back', async () => {
    const log = capturingLogger();
    const metrics = createMetrics({ defaultMetrics: false });
    const gauge = () => metricValue(metrics, 'kube_remediator_store_fallback', { store: 'postgres' });
    const real = new PostgresLimitStore({ url: server.url, logger: log.logger, timeoutMs: 1000 });
    const store = await new FallbackStore(real, {
      logger: log.logger,
      metrics,
      probeIntervalMs: 200,
    }).start();
    opened.push(store);
    expect(store.inFallback).toBe(false);
    await expect(store.claim('before', 'o', 60_000)).resolves.toEqual({ acquired: true, owner: 'o' });

    const failures: unknown[] = [];
    let calls = 0;
    let running = true;
    const traffic = (async () => {
      while (running) {
        calls++;
        await Promise.all([
          store.increment('traffic', 3_600_000),
          store.claim(`t${calls}`, 'o', 60_000),
          store.claimAndIncrement({
            cooldown: { key: `g${calls}`, owner: 'o', ttlMs: 60_000 },
            rate: { key: 'traffic', windowMs: 3_600_000 },
          }),
        ]).catch((err: unknown) => failures.push(err));
        await new Promise((r) => setTimeout(r, 5));
      }
    })();

    const killedAt = performance.now();
    await server.stop();
    while (!store.inFallback) await new Promise((r) => setTimeout(r, 1));
    console.log(
      `postgres fallback switch took ${(performance.now() - killedAt).toFixed(1)} ms after the stop`,
    );
    expect(await gauge()).toBe(1);
    const entering = log.entries.filter((e) => e.message === 'entering fallback mode');
    expect(entering).toHaveLength(1);
    expect(entering[0]).toMatchObject({ store: 'postgres', error: expect.any(String) });

    await expect(store.claim('during', 'o', 60_000)).resolves.toEqual({ acquired: true, owner: 'o' });
    await expect(store.claim('before', 'p', 60_000)).resolves.toMatchObject({ acquired: true });

    await server.start();
    const deadline = Date.now() + 30_000;
    while (store.inFallback && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (store.inFallback) console.log(log.entries.slice(-10));
    expect(store.inFallback).toBe(false);
    expect(await gauge()).toBe(0);
    expect(log.messages()).toContain('leaving fallback mode');

    running = false;
    await traffic;
    expect(failures).toEqual([]);
    expect(calls).toBeGreaterThan(10);

    // Carried over: the outage's claim holds in PostgreSQL; the real holder of `before` kept it.
    await expect(store.claim('during', 'p', 60_000)).resolves.toEqual({ acquired: false, owner: 'o' });
    await expect(store.claim('before', 'q', 60_000)).resolves.toEqual({ acquired: false, owner: 'o' });
    expect(log.entries.filter((e) => e.message === 'entering fallback mode')).toHaveLength(1);
  });
});
