/**
 * Seed fluxa-pipeline.md, Scenario 2 "Database Connection Failures" / "Connection Pool
 * Exhaustion": leaked idle connections take every slot of PostgreSQL, the processor's
 * connections fail with "sorry, too many clients already", messages go to the DLQ. The
 * Runbook drains the processor, ends at most 20 idle connections, checks PostgreSQL and the
 * idempotency constraint, brings the processor back, verifies that failures stopped and
 * redrives the DLQ at 10 messages per second.
 *
 * Real here: the control plane, a PostgreSQL of the lab's own (its connection slots really run
 * out), Debian's postgres exporter, Prometheus, Alertmanager, the operator bundle. The queue,
 * its DLQ and the processor's work are a stand-in for SQS and the processor Lambda: one
 * PostgreSQL connection per message, as a Lambda without a proxy opens, per ready pod of the
 * fluxa-processor Deployment, writing the real `events` and `idempotency_keys` tables.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import { Counter, Gauge } from 'prom-client';
import type { Lab } from '../harness/lab.js';
import { deployment, env, namespace, service } from '../harness/manifests.js';
import { stampOf, stepsOf, type Scenario } from '../harness/scenario.js';
import { StandIn } from '../harness/stand-in.js';
import type { TestPostgres } from '../../test/support/services.js';

const NS = 'fluxa';
const PROCESSOR = 'fluxa-processor';
const ALERT = 'FluxaProcessorDbConnectionFailures';
/** The seed's "too many connections": the same incident, the same Runbook and target. */
const POOL_ALERT = 'FluxaDbConnectionPoolExhausted';
/** The Runbook's bound on the idle connections one run ends (its LIMIT). */
const TERMINATE_BOUND = 20;
const MAX_ATTEMPTS = 3;
const REDRIVE = '/admin/dlq/redrive';

const manifests = [
  namespace(NS),
  deployment({
    name: PROCESSOR,
    namespace: NS,
    replicas: 3,
    labels: { app: PROCESSOR },
    containers: [
      {
        name: 'processor',
        image: 'registry.example/fluxa/processor:1.3.0',
        env: env({ QUEUE_NAME: 'fluxa-events-dev', DLQ_NAME: 'fluxa-events-dlq-dev', DB_NAME: 'fluxa' }),
        ports: [{ containerPort: 8080 }],
      },
    ],
  }),
  service(PROCESSOR, NS, { app: PROCESSOR }, { http: 8080 }),
];

const SCHEMA = [
  'CREATE TABLE events (event_id text PRIMARY KEY, payload jsonb NOT NULL, ts timestamptz NOT NULL DEFAULT now())',
  `CREATE TABLE idempotency_keys (event_id text PRIMARY KEY, status text NOT NULL, attempts int NOT NULL,
     error_reason text, last_seen_at timestamptz NOT NULL DEFAULT now())`,
];

/** The seed's database: role `fluxa` (the application), database `fluxa` with its two tables. */
async function database(pgAdmin: TestPostgres): Promise<{ app: string; admin: string }> {
  const admin = new pg.Client({ connectionString: pgAdmin.url });
  await admin.connect();
  await admin.query('CREATE ROLE fluxa LOGIN');
  await admin.query('CREATE DATABASE fluxa OWNER fluxa');
  await admin.end();
  const base = `postgres://%s@127.0.0.1:${pgAdmin.port}/fluxa`;
  const app = new pg.Client({ connectionString: base.replace('%s', 'fluxa') });
  await app.connect();
  for (const q of SCHEMA) await app.query(q);
  await app.end();
  return { app: base.replace('%s', 'fluxa'), admin: base.replace('%s', 'postgres') };
}

interface Message {
  id: string;
  attempts: number;
}

interface Pipeline {
  standIn: StandIn;
  dlq: Message[];
  /** Ids that went through the DLQ at least once. */
  deadLettered: Set<string>;
  /** When each redriven message left the DLQ. */
  redriven: number[];
  /** processed_failure_total, all reasons, as the stand-in counts it now. */
  failures(): Promise<number>;
}

function errorReason(err: unknown): string {
  return /too many clients|remaining connection slots/i.test(String(err))
    ? 'too_many_connections'
    : 'db_error';
}

/** The stand-in for SQS (queue and DLQ) and the processor's work, per ready processor pod. */
function pipelineStandIn(lab: Lab, appUrl: string): Pipeline {
  const s = new StandIn('fluxa queue, DLQ and processor (SQS and Lambda)');
  const reg = [s.registry];
  const success = new Counter({
    name: 'processed_success_total',
    help: 'Processed.',
    labelNames: ['namespace'],
    registers: reg,
  });
  const failure = new Counter({
    name: 'processed_failure_total',
    help: 'Processing failures.',
    labelNames: ['namespace', 'error_reason'],
    registers: reg,
  });
  const depth = new Gauge({ name: 'fluxa_queue_depth', help: 'Messages visible.', registers: reg });
  const dlqDepth = new Gauge({ name: 'fluxa_dlq_depth', help: 'Messages in the DLQ.', registers: reg });
  success.inc({ namespace: NS }, 0);
  for (const r of ['too_many_connections', 'db_error']) failure.inc({ namespace: NS, error_reason: r }, 0);
  const queue: Message[] = [];
  const p: Pipeline = {
    standIn: s,
    dlq: [],
    deadLettered: new Set(),
    redriven: [],
    failures: async () => (await failure.get()).values.reduce((a, v) => a + v.value, 0),
  };
  let n = 0;
  lab.every('fluxa producer', 100, () => {
    queue.push({ id: `evt-${String(n++).padStart(5, '0')}`, attempts: 0 });
    depth.set(queue.length);
    return Promise.resolve();
  });
  const readyPods = async (): Promise<number> =>
    (
      await lab.primary.clients.core.listNamespacedPod({ namespace: NS, labelSelector: `app=${PROCESSOR}` })
    ).items.filter(
      (pod) =>
        !pod.metadata?.deletionTimestamp &&
        pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    ).length;
  const processOne = async (m: Message): Promise<void> => {
    const c = new pg.Client({
      connectionString: appUrl,
      connectionTimeoutMillis: 2000,
      application_name: PROCESSOR,
    });
    c.on('error', () => undefined);
    try {
      await c.connect();
      await c.query('BEGIN');
      await c.query('INSERT INTO events (event_id, payload) VALUES ($1, $2) ON CONFLICT DO NOTHING', [
        m.id,
        { id: m.id },
      ]);
      await c.query(
        `INSERT INTO idempotency_keys (event_id, status, attempts) VALUES ($1, 'done', $2)
         ON CONFLICT (event_id) DO UPDATE SET status = 'done', attempts = $2, last_seen_at = now()`,
        [m.id, m.attempts + 1],
      );
      await c.query('COMMIT');
      success.inc({ namespace: NS });
    } catch (err) {
      failure.inc({ namespace: NS, error_reason: errorReason(err) });
      m.attempts++;
      if (m.attempts >= MAX_ATTEMPTS) {
        p.dlq.push(m);
        p.deadLettered.add(m.id);
      } else {
        // Back at the head, as SQS shows a failed message again once its visibility timeout
        // ends: its next attempt does not wait behind the whole backlog (slow under load).
        queue.unshift(m);
      }
    } finally {
      await c.end().catch(() => undefined);
    }
  };
  lab.every('fluxa processor', 100, async () => {
    const pods = await readyPods();
    const batch = queue.splice(0, pods);
    await Promise.all(batch.map(processOne));
    depth.set(queue.length);
    dlqDepth.set(p.dlq.length);
  });
  s.route('POST', REDRIVE, (req) => {
    const rate = Number(
      (JSON.parse(req.body || '{}') as { maxMessagesPerSecond?: number }).maxMessagesPerSecond ?? 0,
    );
    if (!(rate > 0)) return { status: 400, body: { error: 'maxMessagesPerSecond must be positive' } };
    const count = p.dlq.length;
    lab.timeline.add('app', `DLQ redrive started: ${count} messages at ${rate}/s`);
    lab.every('DLQ redrive', 1000 / rate, () => {
      const m = p.dlq.shift();
      if (m) {
        queue.push({ id: m.id, attempts: 0 });
        p.redriven.push(Date.now());
      }
      return Promise.resolve();
    });
    return { status: 202, body: { moving: count, maxMessagesPerSecond: rate } };
  });
  return p;
}

/**
 * Idle connections of role fluxa that nobody closes (crashed invocations), taken until every
 * slot is held: a slot the processor frees between its messages is taken too, until no
 * connection has been had for half a second.
 */
async function leakConnections(appUrl: string): Promise<pg.Client[]> {
  const leaked: pg.Client[] = [];
  for (let refused = 0; refused < 10;) {
    const c = new pg.Client({ connectionString: appUrl, application_name: PROCESSOR });
    c.on('error', () => undefined);
    try {
      await c.connect();
      leaked.push(c);
      refused = 0;
    } catch {
      refused++;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return leaked;
}

async function play(lab: Lab): Promise<void> {
  await lab.region('lab');
  await lab.apply(manifests);
  const postgres = await lab.postgres('fluxa database (RDS in the seed)');
  const urls = await database(postgres);
  const exporter = await lab.exporter('postgres', postgres.url);
  const pipeline = pipelineStandIn(lab, urls.app);
  const processor = await lab.standIn(pipeline.standIn);
  lab.address('processor', processor.host, processor.port);
  await lab.rolledOut('Deployment', NS, PROCESSOR);

  await lab.startPipeline({
    targets: [
      { job: 'postgres-exporter', address: exporter, labels: { namespace: NS } },
      { job: PROCESSOR, address: processor.hostPort, labels: { namespace: NS } },
    ],
    rules: [
      {
        alert: ALERT,
        expr: 'sum by (namespace) (rate(processed_failure_total{error_reason="too_many_connections"}[5s])) > 1',
        labels: { severity: 'high', deployment: PROCESSOR, error_reason: 'too_many_connections' },
        annotations: { summary: 'fluxa-processor cannot connect to PostgreSQL' },
      },
      {
        // Answered by the same Runbook: whichever of the two arrives first starts the one
        // remediation, and the cooldown of the Runbook and target suppresses the other.
        alert: POOL_ALERT,
        expr: 'sum by (namespace) (pg_stat_activity_count{datname="fluxa"}) / scalar(max(pg_settings_max_connections)) > 0.8',
        labels: { severity: 'high', deployment: PROCESSOR },
      },
      {
        // The seed's CloudWatch alarm fluxa-dlq-depth-dev: no Runbook answers it here.
        alert: 'FluxaDlqDepth',
        expr: 'fluxa_dlq_depth > 0',
        labels: { severity: 'high' },
      },
    ],
  });
  await lab.apply([
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'fluxa-db', namespace: 'default' },
      stringData: { url: urls.admin },
    },
  ]);
  await lab.notifySecret('fluxa-alerts-slack', 'fluxa-alerts');
  await lab.applyRunbookSample('fluxa-pipeline');
  await lab.waitFor('messages processed', async () =>
    (await lab.prometheus!.query('processed_success_total')).some((x) => x.value > 10),
  );

  const leaked = await leakConnections(urls.app);
  let ended = 0;
  for (const c of leaked) c.on('end', () => ended++);
  lab.timeline.add(
    'fault',
    `${leaked.length} idle connections of role fluxa left open: PostgreSQL has no slot left`,
  );

  const rem = await lab.remediationFor([ALERT, POOL_ALERT]);
  const done = await lab.waitPhase(rem.metadata.name!, 'Succeeded');
  const steps = stepsOf(done);
  await lab.check(
    `idle connections ended within the declared bound (${TERMINATE_BOUND}), the rest left alone`,
    async () => {
      assert.equal(steps['terminate-idle-connections']?.phase, 'Succeeded');
      assert.match(
        steps['terminate-idle-connections']?.message ?? '',
        new RegExp(`affected ${TERMINATE_BOUND} row`),
      );
      await lab.waitFor('the ended connections to close', () => Promise.resolve(ended >= TERMINATE_BOUND));
      assert.equal(ended, TERMINATE_BOUND);
    },
  );
  await lab.check('the connections by state recorded on the Remediation, the idle leak among them', () => {
    const out = steps['record-connection-count']?.output as
      { columns?: string[]; rows?: string[][] } | undefined;
    assert.deepEqual(out?.columns, ['state', 'usename', 'connections']);
    const idle = out?.rows?.find((r) => r[0] === 'idle' && r[1] === 'fluxa');
    assert.ok(idle && Number(idle[2]) >= TERMINATE_BOUND, JSON.stringify(out));
  });
  await lab.check('one remediation for the incident, however many of its alerts fired', async () => {
    assert.equal((await lab.remediations()).length, 1);
  });
  await lab.check(
    'processor drained and back at 3 replicas; PostgreSQL and its constraint checked',
    async () => {
      for (const s of [
        'drain-processor',
        'check-postgres',
        'check-idempotency-constraint',
        'restore-processor',
        'verify-failures-stopped',
      ])
        assert.equal(steps[s]?.phase, 'Succeeded', s);
      const d = await lab.primary.clients.apps.readNamespacedDeployment({ name: PROCESSOR, namespace: NS });
      assert.equal(d.spec?.replicas, 3);
    },
  );
  const settled = await pipeline.failures();
  await lab.waitFor('more messages processed', async () =>
    (await lab.prometheus!.query('sum(increase(processed_success_total[3s]))')).some((x) => x.value > 5),
  );
  await lab.check('failures stopped while messages flow again', async () => {
    assert.equal(await pipeline.failures(), settled);
  });
  await lab.check('DLQ redrive called once, at the declared 10 messages per second', () => {
    const calls = processor.callsTo('POST', REDRIVE);
    assert.equal(calls.length, 1);
    assert.deepEqual(JSON.parse(calls[0]!.body), { maxMessagesPerSecond: 10 });
    assert.equal(calls[0]!.headers['idempotency-key'], stampOf(done, 'redrive-dlq'));
  });
  await lab.check('the outage sent messages to the DLQ', () => {
    assert.ok(pipeline.deadLettered.size > 0, 'no message reached the DLQ');
  });
  await lab.waitFor('the DLQ redriven and its messages stored', async () => {
    if (pipeline.dlq.length > 0) return false;
    const c = new pg.Client({ connectionString: urls.admin });
    await c.connect();
    try {
      const ids = [...pipeline.deadLettered];
      const r = await c.query('SELECT count(*)::int AS n FROM events WHERE event_id = ANY($1)', [ids]);
      return (r.rows[0] as { n: number }).n === ids.length;
    } finally {
      await c.end();
    }
  });
  await lab.check(
    'every dead-lettered message is now in the events table, redriven no faster than 10/s',
    () => {
      const times = pipeline.redriven;
      const spanSecs = (times[times.length - 1]! - times[0]!) / 1000;
      // n messages at 10/s take at least (n - 1) / 10 s.
      assert.ok(spanSecs >= (times.length - 1) / 10 - 0.05, `${times.length} redriven in ${spanSecs} s`);
    },
  );
  lab.timeline.add('heal', `the ${leaked.length - ended} leaked connections left are closed by their owner`);
  for (const c of leaked) await c.end().catch(() => undefined);
}

export const fluxaPipeline: Scenario = {
  seed: 'fluxa-pipeline',
  summary:
    'leaked connections exhaust PostgreSQL → FluxaProcessorDbConnectionFailures → processor drained, 20 idle connections ended (the bound), restored, failures stop, DLQ redriven at 10/s',
  play,
};
