/**
 * Seed redis-outage.md, Scenario 1 "Redis Pod Crash": Dash's redis-0 crash-loops, dash-api
 * falls back to an in-memory queue and reports connection errors (DashRedisConnectionFailed).
 * The Runbook restarts the StatefulSet, waits for it, checks PING → PONG, records the pending
 * queue and forces the event replay.
 *
 * Real here: the control plane (the restart recreates redis-0), redis-0's redis-server (killed
 * for the outage, started again when the pod is created anew, as a kubelet starts its
 * container), Prometheus, Alertmanager, the operator bundle. dash-api is a stand-in that
 * queues its events in the real Redis and replays its fallback queue on POST
 * /admin/recovery/redis.
 */
import assert from 'node:assert/strict';
import { Counter, Gauge } from 'prom-client';
import { runRedis } from '../../src/actions/services/redis-client.js';
import type { Lab } from '../harness/lab.js';
import { deployment, env, namespace, service, statefulSet } from '../harness/manifests.js';
import { stampOf, stepsOf, type Scenario } from '../harness/scenario.js';
import { StandIn } from '../harness/stand-in.js';
import type { TestRedis } from '../../test/support/services.js';

const NS = 'dash';
const ALERT = 'DashRedisConnectionFailed';
const PENDING = 'dash:queue:pending';
const RECOVERY = '/admin/recovery/redis';

const manifests = [
  namespace(NS),
  statefulSet({
    name: 'redis',
    namespace: NS,
    replicas: 1,
    labels: { 'app.kubernetes.io/name': 'redis' },
    containers: [
      {
        name: 'redis',
        image: 'redis:7',
        ports: [{ containerPort: 6379 }],
        // values.yaml of the seed's "Preventive Measures".
        resources: { limits: { memory: '1Gi' } },
      },
    ],
  }),
  service('redis', NS, { 'app.kubernetes.io/name': 'redis' }, { redis: 6379 }),
  deployment({
    name: 'dash-api',
    namespace: NS,
    replicas: 2,
    labels: { 'app.kubernetes.io/name': 'dash-api' },
    containers: [
      {
        name: 'dash-api',
        image: 'registry.example/dash/api:2.7.0',
        env: env({ REDIS_URL: 'redis://redis:6379' }),
        ports: [{ containerPort: 8080 }],
      },
    ],
  }),
  service('dash-api', NS, { 'app.kubernetes.io/name': 'dash-api' }, { http: 8080 }),
];

/**
 * A stand-in for dash-api: every 250 ms an event goes to `dash:queue:pending` in the real
 * Redis; when Redis does not answer, each dash-api pod counts a connection error and the event
 * waits in the in-memory fallback queue until POST /admin/recovery/redis replays it.
 */
function dashApiStandIn(lab: Lab, redis: TestRedis): { standIn: StandIn; replays: number[] } {
  const s = new StandIn('dash-api (events, fallback queue, recovery endpoint)');
  const errors = new Counter({
    name: 'dash_redis_connection_errors_total',
    help: 'Redis connection errors, per dash-api pod.',
    labelNames: ['pod'],
    registers: [s.registry],
  });
  const fallback = new Gauge({
    name: 'dash_redis_fallback_active',
    help: 'In fallback mode.',
    registers: [s.registry],
  });
  const queued = new Gauge({
    name: 'dash_queued_events',
    help: 'Events in the memory queue.',
    registers: [s.registry],
  });
  const replayed = new Counter({
    name: 'dash_replayed_events_total',
    help: 'Events replayed.',
    registers: [s.registry],
  });
  const memoryQueue: string[] = [];
  const replays: number[] = [];
  let n = 0;
  const pods = async (): Promise<string[]> =>
    (
      await lab.primary.clients.core.listNamespacedPod({
        namespace: NS,
        labelSelector: 'app.kubernetes.io/name=dash-api',
      })
    ).items.map((p) => p.metadata!.name!);
  lab.every('dash-api events', 250, async () => {
    const names = await pods();
    for (const pod of names) errors.inc({ pod }, 0);
    const event = JSON.stringify({ id: `evt-${n++}`, at: Date.now() });
    try {
      await runRedis(redis.url, ['RPUSH', PENDING, event]);
      fallback.set(0);
    } catch {
      for (const pod of names) errors.inc({ pod });
      fallback.set(1);
      memoryQueue.push(event);
      queued.set(memoryQueue.length);
    }
  });
  s.route('POST', RECOVERY, async () => {
    const batch = memoryQueue.splice(0);
    if (batch.length) await runRedis(redis.url, ['RPUSH', PENDING, ...batch]);
    replayed.inc(batch.length);
    replays.push(batch.length);
    queued.set(0);
    lab.timeline.add('app', `dash-api replayed ${batch.length} events from its fallback queue into Redis`);
    return { status: 202, body: { replayed: batch.length } };
  });
  s.route('GET', '/health', () => ({ status: 200, body: { status: 'ok' } }));
  return { standIn: s, replays };
}

async function play(lab: Lab): Promise<void> {
  await lab.region('lab');
  await lab.apply(manifests);
  const redis = await lab.redis('redis-0');
  const prober = lab.probe({
    namespace: NS,
    selector: 'app.kubernetes.io/name=redis',
    podPrefix: 'redis-',
    ready: async () => (await runRedis(redis.url, ['PING']).catch(() => '')) === 'PONG',
    failing: 'crashLoop',
    // A new redis-0 (the restart) starts its container: the redis-server, if it is down.
    onNewPod: async (pod) => {
      if (redis.pid !== undefined) return;
      await redis.restart();
      lab.timeline.add(
        'app',
        `${pod.metadata!.name} created anew: its redis-server started (pid ${redis.pid})`,
      );
    },
  });
  const { standIn, replays } = dashApiStandIn(lab, redis);
  const api = await lab.standIn(standIn);
  lab.address('redis', '127.0.0.1', redis.port);
  lab.address('api', api.host, api.port);
  await lab.rolledOut('StatefulSet', NS, 'redis');
  await lab.rolledOut('Deployment', NS, 'dash-api');

  await lab.startPipeline({
    targets: [{ job: 'dash-api', address: api.hostPort, labels: { namespace: NS } }],
    rules: [
      {
        // Per dash-api pod, as Prometheus's pod discovery would label it: every replica reports
        // the same outage, and the Runbook must restart Redis once, not once per replica.
        alert: ALERT,
        expr: 'increase(dash_redis_connection_errors_total[5s]) > 0',
        labels: { severity: 'critical', statefulset: 'redis' },
        annotations: { summary: 'Dash API cannot reach Redis; running in fallback mode' },
      },
    ],
  });
  await lab.applyRunbookSample('redis-outage');
  const sts = async () =>
    lab.primary.clients.apps.readNamespacedStatefulSet({ name: 'redis', namespace: NS });
  const restartedAt = async () =>
    (await sts()).spec?.template.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt'];
  await lab.check('before: redis-0 Ready and answering PING, never restarted', async () => {
    assert.equal(await runRedis(redis.url, ['PING']), 'PONG');
    assert.equal(await restartedAt(), undefined);
    assert.equal(prober.seen.length, 1);
  });

  lab.timeline.add('fault', `redis-server of redis-0 (pid ${redis.pid}) killed; the pod crash-loops`);
  await redis.stop();

  const rem = await lab.remediationFor(ALERT);
  const done = await lab.waitPhase(rem.metadata.name!, 'Succeeded');
  const steps = stepsOf(done);
  await lab.check('StatefulSet restarted once: one restartedAt, one new redis-0', async () => {
    assert.ok(await restartedAt());
    assert.equal(prober.seen.length, 2, `redis-0 uids seen: ${prober.seen.join(', ')}`);
  });
  await lab.check('PING verified (PONG) and the pending queue recorded', () => {
    assert.equal(steps['ping-redis']?.phase, 'Succeeded');
    assert.match(steps['ping-redis']?.message ?? '', /PONG/);
    assert.equal(steps['check-pending-queue']?.phase, 'Succeeded');
  });
  await lab.check("recovery endpoint called once, with the step's Idempotency-Key", () => {
    const calls = api.callsTo('POST', RECOVERY);
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.headers['idempotency-key'], stampOf(done, 'force-event-replay'));
    // The events queued in memory during the outage went to Redis: none lost.
    assert.ok((replays[0] ?? 0) > 0, 'nothing was replayed');
  });
  await lab.check("safety: the other dash-api pod's alert is suppressed by the cooldown", async () => {
    await lab.outcome('suppressed_cooldown');
    assert.equal((await lab.remediations()).length, 1);
  });
  await lab.outcome('resolved_marked');
  await lab.check('after the alert resolved: still one restart, nothing to revert', async () => {
    assert.equal(prober.seen.length, 2);
    const after = await lab.waitPhase(rem.metadata.name!, 'Succeeded');
    assert.equal(after.spec.alert?.status, 'resolved');
  });
}

export const redisOutage: Scenario = {
  seed: 'redis-outage',
  summary:
    "redis-0 crash-loops → DashRedisConnectionFailed from each dash-api pod → one StatefulSet restart (the other pod's alert suppressed by the cooldown), PING → PONG, event replay called once with its Idempotency-Key",
  play,
};
