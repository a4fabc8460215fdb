/**
 * Seed dedup-store-outage.md: the Redis dedup store of Fractal LBA goes down (FLKRedisDown).
 * The Runbook switches fractal-lba-backend to in-memory dedup so PCS submissions stop failing
 * with 503, and switches it back when the alert resolves.
 *
 * Real here: the control plane, redis-master's redis-server (killed for the outage), Debian's
 * redis exporter (`redis_up`), Prometheus, Alertmanager, the operator bundle. The backend is a
 * stand-in that reads its env from the Deployment and writes its dedup keys to the real Redis.
 */
import assert from 'node:assert/strict';
import { Counter } from 'prom-client';
import { runRedis } from '../../src/actions/services/redis-client.js';
import type { Lab } from '../harness/lab.js';
import { deployment, env, envOf, namespace, service, statefulSet } from '../harness/manifests.js';
import { stepsOf, type Scenario } from '../harness/scenario.js';
import { StandIn } from '../harness/stand-in.js';
import type { TestRedis } from '../../test/support/services.js';

const NS = 'fractal-lba';
const BACKEND = 'fractal-lba-backend';
const ALERT = 'FLKRedisDown';

/** The seed's system: the backend (dedup in Redis, required) and the redis-master StatefulSet. */
const manifests = [
  namespace(NS),
  statefulSet({
    name: 'redis-master',
    namespace: NS,
    replicas: 1,
    labels: { app: 'redis' },
    containers: [{ name: 'redis', image: 'redis:7-alpine', ports: [{ containerPort: 6379 }] }],
  }),
  service('redis-master', NS, { app: 'redis' }, { redis: 6379 }),
  deployment({
    name: BACKEND,
    namespace: NS,
    replicas: 3,
    labels: { app: BACKEND },
    containers: [
      {
        name: 'backend',
        image: 'registry.example/fractal-lba/backend:0.4.2',
        env: env({ DEDUP_BACKEND: 'redis', DEDUP_REQUIRED: 'true', REDIS_ADDR: 'redis-master:6379' }),
        ports: [{ containerPort: 8080 }],
      },
    ],
  }),
  service(BACKEND, NS, { app: BACKEND }, { http: 8080 }),
];

/**
 * A stand-in for the backend's /health and its PCS traffic: every 200 ms a submission of one of
 * 20 PCS ids, deduplicated where the Deployment's env says (SET NX in the real Redis, or an
 * in-process map), failing with 503 when the required store does not answer.
 */
function backendStandIn(lab: Lab, redis: TestRedis): StandIn {
  const s = new StandIn(`${BACKEND} (health and PCS submissions)`);
  const submissions = new Counter({
    name: 'flk_pcs_submissions_total',
    help: 'PCS submissions by HTTP code.',
    labelNames: ['code'],
    registers: [s.registry],
  });
  const hits = new Counter({ name: 'flk_dedup_hits_total', help: 'Dedup hits.', registers: [s.registry] });
  for (const code of ['200', '503']) submissions.inc({ code }, 0);
  const memory = new Set<string>();
  const mode = async (): Promise<{ backend: string; required: boolean }> => {
    const d = await lab.primary.clients.apps.readNamespacedDeployment({ name: BACKEND, namespace: NS });
    const e = Object.fromEntries(envOf(d).map((v) => [v.name, v.value ?? '']));
    return { backend: e.DEDUP_BACKEND ?? 'redis', required: e.DEDUP_REQUIRED !== 'false' };
  };
  const submit = async (id: string): Promise<number> => {
    const m = await mode();
    if (m.backend === 'memory') {
      if (memory.has(id)) hits.inc();
      memory.add(id);
      return 200;
    }
    try {
      const fresh = await runRedis(redis.url, ['SET', `pcs:${id}`, '1', 'NX', 'EX', '60']);
      if (fresh === null) hits.inc();
      return 200;
    } catch {
      return m.required ? 503 : 200;
    }
  };
  let n = 0;
  lab.every('backend PCS traffic', 200, async () => {
    submissions.inc({ code: String(await submit(`pcs-${n++ % 20}`)) });
  });
  s.route('GET', '/health', async () => {
    const m = await mode();
    if (m.backend === 'memory') return { status: 200, body: { status: 'ok', dedup: 'memory' } };
    const up = await runRedis(redis.url, ['PING']).catch(() => undefined);
    if (up === 'PONG' || !m.required) return { status: 200, body: { status: 'ok', dedup: 'redis' } };
    return { status: 503, body: { status: 'Dedup store error: connection refused' } };
  });
  return s;
}

async function backendEnv(lab: Lab): Promise<{ name: string; value?: string }[]> {
  return envOf(await lab.primary.clients.apps.readNamespacedDeployment({ name: BACKEND, namespace: NS }));
}

async function play(lab: Lab): Promise<void> {
  await lab.region('lab');
  await lab.apply(manifests);
  const redis = await lab.redis('redis-master-0');
  const ready = async (): Promise<boolean> =>
    (await runRedis(redis.url, ['PING']).catch(() => '')) === 'PONG';
  // redis-master-0 is Ready exactly when its redis-server answers PING; down, it crash-loops.
  lab.probe({
    namespace: NS,
    selector: 'app=redis',
    podPrefix: 'redis-master-',
    ready,
    failing: 'crashLoop',
  });
  const exporter = await lab.exporter('redis', redis.url);
  const backend = await lab.standIn(backendStandIn(lab, redis));
  lab.address('backend', backend.host, backend.port);
  lab.address('redis', '127.0.0.1', redis.port);
  await lab.rolledOut('Deployment', NS, BACKEND);
  await lab.rolledOut('StatefulSet', NS, 'redis-master');
  const before = await backendEnv(lab);

  await lab.startPipeline({
    targets: [
      { job: 'redis-exporter', address: exporter, labels: { namespace: NS, service: 'redis-master' } },
      { job: BACKEND, address: backend.hostPort, labels: { namespace: NS } },
    ],
    rules: [
      {
        alert: ALERT,
        expr: 'redis_up{service="redis-master"} == 0',
        for: '1s',
        labels: { severity: 'critical', deployment: BACKEND },
        annotations: { summary: 'Dedup store (Redis) unreachable from fractal-lba-backend' },
      },
      {
        // Not answered by the Runbook: the seed lists it as a symptom ("flk_dedup_hits stopped
        // incrementing"). In memory mode the hits go on, so it stays quiet once degraded.
        alert: 'FLKDedupAnomalyLow',
        expr: 'sum(rate(flk_dedup_hits_total[5s])) == 0',
        for: '10s',
        labels: { severity: 'warning' },
      },
    ],
  });
  await lab.notifySecret('oncall-slack-webhook', 'oncall');
  await lab.applyRunbookSample('dedup-store-outage');

  await lab.check('before: the backend uses Redis for dedup, required, and is healthy', async () => {
    assert.deepEqual(
      before,
      env({ DEDUP_BACKEND: 'redis', DEDUP_REQUIRED: 'true', REDIS_ADDR: 'redis-master:6379' }),
    );
    assert.equal((await fetch(`${backend.url}/health`)).status, 200);
  });

  lab.timeline.add('fault', `redis-server of redis-master-0 (pid ${redis.pid}) killed`);
  await redis.stop();
  await lab.waitFor(
    'the backend failing with 503',
    async () => (await fetch(`${backend.url}/health`)).status === 503,
  );

  const rem = await lab.remediationFor(ALERT);
  const done = await lab.waitPhase(rem.metadata.name!, 'Succeeded');
  const steps = stepsOf(done);
  await lab.check('degraded mode: DEDUP_BACKEND=memory, the rest of the env untouched', async () => {
    assert.deepEqual(
      await backendEnv(lab),
      env({ DEDUP_BACKEND: 'memory', DEDUP_REQUIRED: 'true', REDIS_ADDR: 'redis-master:6379' }),
    );
    assert.deepEqual(steps['enable-memory-dedup']?.before, {
      containers: { backend: { DEDUP_BACKEND: { index: 0, value: 'redis' } } },
    });
  });
  const fired = lab.timeline.find('alert', new RegExp(`^${ALERT} .* firing`));
  const switched = lab.timeline.find('step', /^enable-memory-dedup .* Succeeded/);
  if (fired && switched)
    lab.timeline.add(
      'lab',
      `degraded mode on ${((switched.at - fired.at) / 1000).toFixed(1)} s after the alert fired`,
    );
  await lab.check("the outage's checks are recorded: backend healthy again, Redis PING refused", async () => {
    assert.equal(steps['check-backend-health']?.phase, 'Succeeded');
    assert.equal(steps['check-redis']?.phase, 'Failed');
    assert.match(steps['check-redis']?.message ?? '', /ECONNREFUSED|connect|refused/i);
    assert.equal((await fetch(`${backend.url}/health`)).status, 200);
  });
  await lab.check('the on-call channel was told', () => {
    assert.match(lab.chatMessages('oncall').join('\n'), /switched to in-memory dedup/);
  });

  await redis.restart();
  const healedAt = Date.now();
  lab.timeline.add('heal', `redis-server of redis-master-0 back (pid ${redis.pid}), answering PING`);
  const reverted = await lab.waitPhase(rem.metadata.name!, 'Reverted');
  await lab.check(
    "the switch-back passed the Runbook's own gate (PING) and /health was verified after it",
    () => {
      const s = stepsOf(reverted);
      assert.equal(s['revert-gate']?.phase, 'Succeeded');
      assert.match(JSON.stringify(s['revert-gate']?.output ?? {}), /"redis-answers-ping","result":"Met"/);
      assert.equal(s['verify-backend-health']?.phase, 'Succeeded');
    },
  );
  await lab.check('switched back only after Redis answered again; env restored exactly', async () => {
    const revertedAt = Date.parse(
      reverted.status!.steps!.find((s) => s.name === 'enable-memory-dedup')!.revertedAt!,
    );
    // revertedAt has whole seconds: compare at that precision.
    assert.ok(revertedAt >= Math.floor(healedAt / 1000) * 1000, 'reverted before Redis was back');
    assert.deepEqual(await backendEnv(lab), before);
  });

  // Safety: the store flaps. A second FLKRedisDown within the 30 m cooldown must not switch the
  // backend again (each switch is a rollout of every pod): it is suppressed and recorded.
  lab.timeline.add('fault', `redis-server killed again (pid ${redis.pid}): the store flaps`);
  await redis.stop();
  await lab.outcome('suppressed_cooldown');
  await lab.check(
    'cooldown: the re-fire is suppressed, one Remediation, the backend stays on Redis',
    async () => {
      assert.equal((await lab.remediations()).length, 1);
      assert.deepEqual(await backendEnv(lab), before);
      const events = await lab.kubectl([
        'get',
        'events',
        '-n',
        'default',
        '--field-selector',
        'reason=AlertSuppressed',
      ]);
      assert.match(events, /suppressed_cooldown/);
    },
  );
  await redis.restart();
  lab.timeline.add('heal', `redis-server back (pid ${redis.pid})`);
  await lab.waitFor(`${ALERT} resolved`, async () => !(await lab.firing(ALERT)));
}

export const dedupStoreOutage: Scenario = {
  seed: 'dedup-store-outage',
  summary:
    'Redis dedup store killed → FLKRedisDown → backend switched to DEDUP_BACKEND=memory, health verified; Redis back → switched back exactly; a flap within the cooldown is suppressed',
  play,
};
