/**
 * RedisLimitStore against the shared Redis (keys under a prefix unique to this run), and
 * FallbackStore against a private Redis that the test kills and starts again.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { createMetrics } from '../../../src/observability/metrics.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { FallbackStore } from '../../../src/stores/fallback.js';
import { createLimitStore } from '../../../src/stores/index.js';
import { RedisLimitStore } from '../../../src/stores/redis.js';
import type { LimitStore } from '../../../src/stores/types.js';
import { FakeClock } from '../../../src/util/clock.js';
import { startRedis, type TestRedis } from '../../support/services.js';
import { capturingLogger, metricValue } from '../../unit/stores/helpers.js';
import { limitStoreContract } from './contract.js';
import { loadConfig } from '../../../src/config/config.js';

const HOUR = 3_600_000;
const SHARED_URL = process.env.KR_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const prefix = `kr-test:${randomUUID()}:`;
const opened: LimitStore[] = [];

afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  // Leave nothing behind on the shared server.
  const r = new Redis(SHARED_URL);
  const keys = await r.keys(`${prefix}*`);
  if (keys.length > 0) await r.del(...keys);
  await r.quit();
});

describe('RedisLimitStore (shared Redis)', () => {
  let n = 0;
  limitStoreContract(
    (clock) =>
      new RedisLimitStore({
        url: SHARED_URL,
        keyPrefix: `${prefix}${n++}:`,
        logger: silentLogger(),
        clock,
        timeoutMs: 15_000,
      }),
    opened,
  );

  it('keeps every key under the prefix and gives counters an expiry', async () => {
    const p = `${prefix}layout:`;
    const s = new RedisLimitStore({ url: SHARED_URL, keyPrefix: p, logger: silentLogger() });
    opened.push(s);
    await s.claim('k', 'a', 60_000);
    await s.increment('r', 60_000);
    const r = new Redis(SHARED_URL);
    try {
      const keys = (await r.keys(`${p}*`)).sort();
      expect(keys).toHaveLength(2);
      expect(await r.get(`${p}claim:k`)).toBe('a');
      const counter = keys.find((k) => k.includes('count:'))!;
      const ttl = await r.pttl(counter);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(65_000);
    } finally {
      await r.quit();
    }
  });

  it('claimAndIncrementMany gives back what it took when a command in its script fails', async () => {
    // Redis does not roll a script back: the script itself must. A list under a counter key
    // makes the third request's INCRBY fail with WRONGTYPE, after two claims and two counts.
    const p = `${prefix}undo:`;
    const clock = new FakeClock(new Date(Date.UTC(2026, 0, 1, 12, 0, 0)));
    const s = new RedisLimitStore({ url: SHARED_URL, keyPrefix: p, logger: silentLogger(), clock });
    opened.push(s);
    const r = new Redis(SHARED_URL);
    try {
      const start = Date.UTC(2026, 0, 1, 12, 0, 0);
      await r.rpush(`${p}count:bad:${HOUR}:${start}`, 'not a counter');
      const req = (key: string, rate: string) => ({
        cooldown: { key, owner: 'a', ttlMs: 60_000 },
        rate: { key: rate, windowMs: HOUR },
      });
      await expect(
        s.claimAndIncrementMany([req('u1', 'ok'), req('u2', 'ok'), req('u3', 'bad')]),
      ).rejects.toThrow(/WRONGTYPE/);
      expect(await r.exists(`${p}claim:u1`, `${p}claim:u2`, `${p}claim:u3`)).toBe(0);
      expect(await r.get(`${p}count:ok:${HOUR}:${start}`)).toBe('0');
      await expect(s.claimAndIncrementMany([req('u1', 'ok')])).resolves.toEqual([
        { claim: { acquired: true, owner: 'a' }, count: 1, windowStart: start },
      ]);
    } finally {
      await r.quit();
    }
  });

  it('createLimitStore builds a Redis store behind the fallback from the config', async () => {
    const config = loadConfig({
      env: {},
      overrides: { 'store.kind': 'redis', 'store.redisUrl': SHARED_URL, 'store.keyPrefix': `${prefix}cfg:` },
    });
    const s = await createLimitStore(config, { logger: silentLogger() });
    opened.push(s);
    expect(s).toBeInstanceOf(FallbackStore);
    expect((s as FallbackStore).inFallback).toBe(false);
    await expect(s.claim('k', 'a', 1000)).resolves.toEqual({ acquired: true, owner: 'a' });
  });
});

describe('FallbackStore over a Redis that goes away', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.destroy();
  });

  it('falls back at once, fails no call, and returns when Redis is back', async () => {
    const log = capturingLogger();
    const metrics = createMetrics({ defaultMetrics: false });
    const gauge = () => metricValue(metrics, 'kube_remediator_store_fallback', { store: 'redis' });
    const real = new RedisLimitStore({
      url: redis.url,
      keyPrefix: 'kr:',
      logger: log.logger,
      timeoutMs: 500,
    });
    const store = await new FallbackStore(real, {
      logger: log.logger,
      metrics,
      probeIntervalMs: 200,
    }).start();
    opened.push(store);
    expect(store.inFallback).toBe(false);
    await expect(store.claim('before', 'o', 60_000)).resolves.toEqual({ acquired: true, owner: 'o' });

    // Steady traffic for the whole outage: every call must resolve.
    const failures: unknown[] = [];
    let calls = 0;
    let running = true;
    const traffic = (async () => {
      while (running) {
        calls++;
        await Promise.all([
          store.increment('traffic', 3_600_000),
          store.claim(`t${calls}`, 'o', 60_000),
        ]).catch((err: unknown) => failures.push(err));
        await new Promise((r) => setTimeout(r, 5));
      }
    })();

    const killedAt = performance.now();
    await redis.stop();
    while (!store.inFallback) await new Promise((r) => setTimeout(r, 1));
    const switchMs = performance.now() - killedAt;
    console.log(`redis fallback switch took ${switchMs.toFixed(1)} ms after the kill`);
    expect(await gauge()).toBe(1);
    const entering = log.entries.filter((e) => e.message === 'entering fallback mode');
    expect(entering).toHaveLength(1);
    expect(entering[0]).toMatchObject({ store: 'redis', error: expect.any(String) });

    // Claims made during the outage, in memory.
    await expect(store.claim('during', 'o', 60_000)).resolves.toEqual({ acquired: true, owner: 'o' });
    await expect(store.claim('during', 'p', 60_000)).resolves.toEqual({ acquired: false, owner: 'o' });
    await new Promise((r) => setTimeout(r, 500));

    await redis.restart();
    const deadline = Date.now() + 30_000;
    while (store.inFallback && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(store.inFallback).toBe(false);
    expect(await gauge()).toBe(0);
    expect(log.messages()).toContain('leaving fallback mode');

    running = false;
    await traffic;
    expect(failures).toEqual([]);
    expect(calls).toBeGreaterThan(10);

    // Back on Redis, and what memory granted during the outage was carried over.
    const direct = new Redis(redis.url);
    try {
      expect(await direct.get('kr:claim:during')).toBe('o');
    } finally {
      await direct.quit();
    }
    await expect(store.claim('during', 'p', 60_000)).resolves.toEqual({ acquired: false, owner: 'o' });
    expect(log.entries.filter((e) => e.message === 'entering fallback mode')).toHaveLength(1);
  });

  it('starts in fallback when Redis is down at start, and leaves it when Redis comes up', async () => {
    await redis.stop();
    const log = capturingLogger();
    const metrics = createMetrics({ defaultMetrics: false });
    const config = loadConfig({
      env: {},
      overrides: { 'store.kind': 'redis', 'store.redisUrl': redis.url, 'store.probeInterval': '100ms' },
    });
    const store = (await createLimitStore(config, { logger: log.logger, metrics })) as FallbackStore;
    opened.push(store);
    expect(store.inFallback).toBe(true);
    await expect(store.increment('x', 60_000)).resolves.toMatchObject({ count: 1 });
    await redis.restart();
    const deadline = Date.now() + 30_000;
    while (store.inFallback && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(store.inFallback).toBe(false);
    // The count taken in memory was added to Redis.
    await expect(store.increment('x', 60_000)).resolves.toMatchObject({ count: 2 });
  });
});
