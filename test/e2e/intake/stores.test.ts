/**
 * The intake with the shared stores: cooldowns and rate limits hold across two replicas with
 * the real Redis and the real PostgreSQL, and when a Redis we started ourselves is killed in
 * the middle of a stream of alerts, the intake falls back to memory without losing one.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import pg from 'pg';
import { silentLogger } from '../../../src/observability/logger.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { FallbackStore } from '../../../src/stores/index.js';
import { PostgresLimitStore } from '../../../src/stores/postgres.js';
import { RedisLimitStore } from '../../../src/stores/redis.js';
import type { LimitStore } from '../../../src/stores/types.js';
import { FakeClock, type Clock } from '../../../src/util/clock.js';
import { createNamespace, deleteNamespace, waitFor } from '../../support/kube.js';
import { startRedis, type TestRedis } from '../../support/services.js';
import { aPayload, anAlert, counter } from '../../unit/intake/builders.js';
import {
  createRunbook,
  listen,
  listRemediations,
  outcomes,
  PATH,
  post,
  startIntake,
  tally,
  TOKEN,
  type TestIntake,
  type WebhookBody,
} from './helpers.js';

const SHARED_REDIS = 'redis://127.0.0.1:6379/0';
const SHARED_POSTGRES = 'postgres://postgres@127.0.0.1:5432/test';
const auth = { authorization: `Bearer ${TOKEN}` };
const runId = randomBytes(4).toString('hex');

let ns: string;
const servers: TestIntake[] = [];
const stores: LimitStore[] = [];
beforeAll(async () => {
  ns = await createNamespace('intake-stores');
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.app.close()));
  await Promise.all(stores.map((s) => s.close()));
  await deleteNamespace(ns);
  // Leave the shared servers as we found them.
  const redis = new Redis(SHARED_REDIS, { protocol: 2, maxRetriesPerRequest: 0 });
  const keys = await redis.keys(`kr-test-intake-${runId}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  const db = new pg.Client({ connectionString: SHARED_POSTGRES });
  await db.connect();
  await db.query(`DROP SCHEMA IF EXISTS kr_intake_${runId} CASCADE`);
  await db.end();
});

let seq = 0;
function freshAlert(alertname: string, deployment: string) {
  seq += 1;
  return anAlert({
    fingerprint: (0xb000 + seq).toString(16).padStart(16, '0'),
    startsAt: new Date(Date.UTC(2026, 1, 1, 0, 0, seq)).toISOString(),
    labels: { alertname, deployment },
  });
}

/**
 * `timeoutMs` short only where the test kills the server: on a loaded machine a 500 ms bound
 * can time out a reply already in the socket and send a healthy replica to memory.
 */
async function fallbackStore(
  kind: 'redis' | 'postgres',
  url: string,
  metrics = createMetrics({ defaultMetrics: false }),
  timeoutMs = 5_000,
  clock?: Clock,
) {
  const logger = silentLogger();
  const real =
    kind === 'redis'
      ? new RedisLimitStore({ url, keyPrefix: `kr-test-intake-${runId}:`, logger, timeoutMs, clock })
      : new PostgresLimitStore({ url, logger, schema: `kr_intake_${runId}`, clock });
  const store = await new FallbackStore(real, { logger, metrics, probeIntervalMs: 200 }).start();
  stores.push(store);
  return { store, metrics };
}

describe.each([
  ['Redis', 'redis' as const, SHARED_REDIS],
  ['PostgreSQL', 'postgres' as const, SHARED_POSTGRES],
])('with the shared %s store', (_name, kind, url) => {
  it('holds the cooldown and the rate limit across two replicas', async () => {
    const rb = `gates-${kind}`;
    await createRunbook(ns, rb, {
      triggers: [{ alertname: rb }],
      safety: { cooldown: '10m', maxPerHour: 2 },
    });
    // Two replicas, each with its own client of the same store. Their clocks stand still: a
    // run across hh:00 would start a new hour's count.
    const clock = new FakeClock(new Date(Date.UTC(2026, 0, 1, 12)));
    const replica = async () =>
      (await fallbackStore(kind, url, createMetrics({ defaultMetrics: false }), 5_000, clock)).store;
    const a = startIntake({ namespace: ns, store: await replica() });
    const b = startIntake({ namespace: ns, store: await replica() });
    servers.push(a, b);
    expect((a.store as FallbackStore).inFallback).toBe(false);
    const send = async (s: TestIntake, alert: ReturnType<typeof freshAlert>) =>
      (
        await s.app.inject({ method: 'POST', url: PATH, headers: auth, payload: aPayload([alert]) })
      ).json<WebhookBody>().alerts[0]!.results[0]!.outcome;

    const first = freshAlert(rb, 'web');
    expect(await send(a, first)).toBe('created');
    // Same occurrence on the other replica: a repeat; another occurrence on the same target: cooldown.
    expect(await send(b, first)).toBe('duplicate');
    expect(await send(b, freshAlert(rb, 'web'))).toBe('suppressed_cooldown');
    // Another target: the second of two allowed this hour, then the limit.
    expect(await send(b, freshAlert(rb, 'api'))).toBe('created');
    expect(await send(a, freshAlert(rb, 'db'))).toBe('suppressed_rate_limit');
    // The refused alert took its cooldown in the same store call, and gave it back: another
    // occurrence on that target meets the rate limit again, not a cooldown.
    expect(await send(b, freshAlert(rb, 'db'))).toBe('suppressed_rate_limit');
    expect((await listRemediations(ns)).filter((r) => r.spec.runbookRef?.name === rb)).toHaveLength(2);
    expect((a.store as FallbackStore).inFallback).toBe(false);
    expect((b.store as FallbackStore).inFallback).toBe(false);
  });
});

describe('a Redis outage in the middle of a stream of alerts', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.destroy();
  });

  it('falls back to memory at once, loses no alert, and goes back to Redis when it returns', async () => {
    const rb = 'outage';
    await createRunbook(ns, rb, {
      triggers: [{ alertname: rb }],
      safety: { cooldown: '10m', maxPerHour: 10000 },
    });
    const { store, metrics } = await fallbackStore(
      'redis',
      redis.url,
      createMetrics({ defaultMetrics: false }),
      500,
    );
    const s = startIntake({ namespace: ns, store, metrics });
    servers.push(s);
    const url = await listen(s.app);
    const fallback = store;

    // 8 senders post distinct alerts (one target each) in groups of 3; Redis is killed midway.
    const sent: ReturnType<typeof freshAlert>[] = [];
    const answers: { status: number; body: WebhookBody }[] = [];
    let stop = false;
    let killedAfter = -1;
    const sender = async () => {
      while (!stop) {
        const group = [0, 1, 2].map(() => freshAlert(rb, `web-${seq + 1}`));
        sent.push(...group);
        answers.push(await post(url, aPayload(group)));
      }
    };
    const senders = Array.from({ length: 8 }, () => sender());
    // Some answered before the kill and some after, however slow the machine.
    await waitFor(() => Promise.resolve(answers.length >= 3), {
      what: 'answers before the kill',
      timeoutMs: 30_000,
    });
    killedAfter = answers.length;
    await redis.stop('SIGKILL');
    const inFallbackSeen = await waitFor(() => Promise.resolve(fallback.inFallback), {
      what: 'the fallback',
      timeoutMs: 30_000,
      intervalMs: 50,
    }).catch(() => false);
    await waitFor(() => Promise.resolve(answers.length >= killedAfter + 3), {
      what: 'answers after the kill',
      timeoutMs: 30_000,
    });
    stop = true;
    await Promise.all(senders);

    expect(killedAfter).toBeGreaterThan(0);
    expect(answers.length).toBeGreaterThan(killedAfter);
    expect(inFallbackSeen).toBe(true);
    expect(await counter(metrics.storeFallback, { store: 'redis' })).toBe(1);
    // Every request acknowledged, every alert created exactly once.
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(tally(answers.flatMap((a) => outcomes(a.body)))).toEqual({ created: sent.length });
    const made = (await listRemediations(ns)).filter((r) => r.spec.runbookRef?.name === rb);
    expect(made).toHaveLength(sent.length);
    expect(new Set(made.map((r) => r.spec.alert?.fingerprint))).toEqual(
      new Set(sent.map((a) => a.fingerprint)),
    );

    // Redis is back: the store leaves fallback by itself and new claims land in Redis again.
    await redis.restart();
    await (async () => {
      for (let i = 0; i < 100 && fallback.inFallback; i++) await sleep(100);
    })();
    expect(fallback.inFallback).toBe(false);
    expect(await counter(metrics.storeFallback, { store: 'redis' })).toBe(0);
    const after = freshAlert(rb, 'after-outage');
    expect(outcomes((await post(url, aPayload([after]))).body)).toEqual(['created']);
    const client = new Redis(redis.url, { protocol: 2, lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      await client.connect();
      const keys = await client.keys(`kr-test-intake-${runId}:*after-outage*`);
      expect(keys.length).toBeGreaterThan(0);
    } finally {
      client.disconnect();
    }
  });
});
