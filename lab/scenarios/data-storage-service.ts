/**
 * Seed data-storage-service.md, three scenarios on the same system, one lab each (the
 * Runbook's one rollback per hour means one Remediation per lab):
 * - Runbook 3 "Rollback": a new datastorage version's pods never become ready, the rollout is
 *   stuck (KubeDeploymentRolloutStuck), the Runbook rolls back to the previous revision and
 *   verifies the health and REST endpoints. A second bad deploy within the hour is left to a
 *   person.
 * - Runbook 6 "P0: Service Down", a deploy the cause: v1.2.0 rolls out ready, then its pods
 *   all go unready; DataStorageServiceDown; the guard reads PostgreSQL (answers) and the
 *   rollout history (a rollout within the hour), and the Runbook rolls back.
 * - Runbook 6 "P0: Service Down", PostgreSQL the cause: DataStorageServiceDown; the guard reads
 *   PostgreSQL first (no answer), the run ends Skipped and nothing is rolled back.
 *
 * Real here: the control plane (its Deployment controller marks the rollout stuck after the
 * progress deadline, and rolls back), a PostgreSQL of the lab's own (action_history), the
 * readiness probes run against the stand-in by the lab's kubelet, Prometheus, Alertmanager,
 * the operator bundle. The datastorage server is a stand-in: health endpoints and
 * /api/v1/incidents backed by the real database; version v1.1.x is its bad release.
 */
import assert from 'node:assert/strict';
import type * as k8s from '@kubernetes/client-node';
import pg from 'pg';
import { REVISION_ANNOTATION } from '../../src/actions/kubernetes/rollout-undo.js';
import type { Lab } from '../harness/lab.js';
import { startKubeState } from '../harness/kube-state.js';
import { deployment, namespace, service } from '../harness/manifests.js';
import { stepsOf, type Scenario } from '../harness/scenario.js';
import { StandIn } from '../harness/stand-in.js';
import type { TestPostgres } from '../../test/support/services.js';

const NS = 'datastorage';
const NAME = 'datastorage';
const ALERT = 'KubeDeploymentRolloutStuck';
const IMAGE = 'quay.io/jordigilh/data-storage';
const GOOD = `${IMAGE}:v1.0.0`;
const DOWN = 'DataStorageServiceDown';
/** The stand-in's bad releases and why their readiness fails. */
const BAD: Record<string, string> = {
  'v1.1.0': 'schema migration 0042 not applied: relation "incident_labels" does not exist',
  'v1.1.1': 'panic: nil map in config loader',
};
/** A bad release that starts ready and fails later, once `leaking` is set (a connection leak). */
const LEAKY = 'v1.2.0';
const LEAK = 'connection pool exhausted: 100/100 connections in use, none returned';

const container: k8s.V1Container = {
  name: NAME,
  image: GOOD,
  ports: [
    { containerPort: 8080, name: 'http' },
    { containerPort: 9090, name: 'metrics' },
  ],
  envFrom: [{ configMapRef: { name: 'datastorage-config' } }],
  env: [
    { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'datastorage-secret', key: 'DB_PASSWORD' } } },
  ],
  livenessProbe: {
    httpGet: { path: '/health/live', port: 8080 },
    initialDelaySeconds: 10,
    periodSeconds: 10,
  },
  readinessProbe: {
    httpGet: { path: '/health/ready', port: 8080 },
    initialDelaySeconds: 5,
    periodSeconds: 5,
    failureThreshold: 1,
  },
  resources: { requests: { memory: '256Mi', cpu: '250m' }, limits: { memory: '512Mi', cpu: '500m' } },
  securityContext: { runAsNonRoot: true, runAsUser: 1001, allowPrivilegeEscalation: false },
};

/** Runbook 1 "Deployment", steps 1.2 to 1.5. */
const manifests = [
  namespace(NS),
  {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'datastorage-config', namespace: NS },
    data: {
      DB_HOST: 'postgres.datastorage.svc.cluster.local',
      DB_PORT: '5432',
      DB_NAME: 'action_history',
      DB_USER: 'datastorage_user',
      LOG_LEVEL: 'info',
      HTTP_PORT: '8080',
      METRICS_PORT: '9090',
    },
  },
  {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'datastorage-secret', namespace: NS },
    stringData: { DB_PASSWORD: 'lab-password' },
  },
  // The seed's terminationGracePeriodSeconds: 40 (DD-007) becomes 0 (no kubelet here ends a
  // grace period), and its stuck rollout ("pods not ready after 5 minutes", progress deadline
  // 300 s) is declared after 10 s, so the scenario takes seconds.
  deployment(
    { name: NAME, namespace: NS, replicas: 2, labels: { app: NAME }, containers: [container] },
    { progressDeadlineSeconds: 10 },
  ),
  service(NAME, NS, { app: NAME }, { http: 8080, metrics: 9090 }),
];

async function database(p: TestPostgres): Promise<string> {
  const admin = new pg.Client({ connectionString: p.url });
  await admin.connect();
  await admin.query('CREATE ROLE datastorage_user LOGIN');
  await admin.query('CREATE DATABASE action_history OWNER datastorage_user');
  await admin.end();
  const url = `postgres://datastorage_user@127.0.0.1:${p.port}/action_history`;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query(`CREATE TABLE resource_action_traces (id serial PRIMARY KEY, namespace text NOT NULL,
    severity text NOT NULL, action text NOT NULL, action_timestamp timestamptz NOT NULL DEFAULT now())`);
  await c.query(`INSERT INTO resource_action_traces (namespace, severity, action) VALUES
    ('default', 'high', 'restart-pod'), ('payments', 'critical', 'scale-deployment')`);
  await c.end();
  return url;
}

/** Whose rights the run used (status.identity): the sample's ServiceAccount, not the operator's. */
const IDENTITY = 'system:serviceaccount:default:data-storage-service';

const tagOf = (image: string | undefined): string => (image ?? '').split(':').pop() ?? '';

/** The datastorage server as its Service answers: health of a version, incidents from PostgreSQL. */
class ServerStandIn extends StandIn {
  /** Set by the scenario: the leaky release has run out of connections. */
  leaking = false;
}

function serverStandIn(lab: Lab, dbUrl: string): ServerStandIn {
  const s = new ServerStandIn('datastorage (health and REST API)');
  const query = async <T>(sql: string, args: unknown[] = []): Promise<T[]> => {
    const c = new pg.Client({ connectionString: dbUrl, connectionTimeoutMillis: 1000 });
    c.on('error', () => undefined);
    try {
      await c.connect();
      return (await c.query(sql, args)).rows as T[];
    } finally {
      await c.end().catch(() => undefined);
    }
  };
  // The version a request reaches: the pod's (the kubelet's probe says which), else the
  // Deployment's current one (the Service).
  const version = async (header: string | undefined): Promise<string> => {
    if (header) return tagOf(header);
    const d = await lab.primary.clients.apps.readNamespacedDeployment({ name: NAME, namespace: NS });
    return tagOf(d.spec?.template.spec?.containers[0]?.image);
  };
  s.route('GET', '/health/live', () => ({ status: 200, body: { status: 'alive' } }));
  s.route('GET', '/health/ready', async (req) => {
    const v = await version(req.headers['x-lab-image']);
    if (BAD[v]) return { status: 503, body: { status: 'not ready', version: v, error: BAD[v] } };
    if (v === LEAKY && s.leaking)
      return { status: 503, body: { status: 'not ready', version: v, error: LEAK } };
    try {
      await query('SELECT 1');
    } catch (err) {
      return { status: 503, body: { status: 'not ready', error: `Database ping failed: ${String(err)}` } };
    }
    return { status: 200, body: { status: 'ready', version: v } };
  });
  s.route('GET', '/api/v1/incidents', async (req) => {
    const limit = Math.min(Number(req.query.get('limit') ?? 10), 1000);
    const incidents = await query(
      'SELECT * FROM resource_action_traces ORDER BY action_timestamp DESC LIMIT $1',
      [limit],
    );
    return { status: 200, body: { incidents } };
  });
  return s;
}

interface System {
  postgres: TestPostgres;
  server: ServerStandIn;
  state: () => Promise<{ image: string | undefined; revision: string | undefined }>;
}

/** The seed's system, its rules, the pipeline and the shipped Runbook: ready, 2/2 on v1.0.0. */
async function system(lab: Lab): Promise<System> {
  await lab.region('lab');
  await lab.apply(manifests);
  const postgres = await lab.postgres('action_history database');
  const server = await lab.standIn(serverStandIn(lab, await database(postgres)));
  lab.address('service', server.host, server.port);
  // Address params (ADR 0016): the rollback's guard asks the lab's PostgreSQL (pg_isready).
  lab.address('postgres', '127.0.0.1', postgres.port);
  // The kubelet's readiness probe (GET /health/ready) of each pod, for the pod's own version.
  lab.probe({
    namespace: NS,
    selector: `app=${NAME}`,
    podPrefix: `${NAME}-`,
    ready: async (pod) =>
      (
        await fetch(`${server.url}/health/ready`, {
          headers: { 'x-lab-image': pod.spec!.containers[0]!.image! },
        })
      ).ok,
  });
  const kubeState = await lab.standIn(await startKubeState(lab.primary.kc, { namespaces: [NS] }));
  await lab.rolledOut('Deployment', NS, NAME);

  await lab.startPipeline({
    targets: [{ job: 'kube-state-metrics', address: kubeState.hostPort }],
    rules: [
      {
        alert: ALERT,
        expr: 'kube_deployment_status_condition{condition="Progressing",status="false"} == 1',
        labels: { severity: 'critical' },
        annotations: {
          summary: 'Deployment {{ $labels.namespace }}/{{ $labels.deployment }} rollout is not progressing',
        },
      },
      {
        // Runbook 6 "P0: Service Down": no replica available.
        alert: DOWN,
        expr: 'kube_deployment_status_replicas_available{deployment="datastorage"} == 0',
        labels: { severity: 'critical' },
        annotations: { summary: 'datastorage in {{ $labels.namespace }} has no available replica' },
      },
    ],
  });
  await lab.notifySecret('incidents-slack-webhook', 'incidents');
  await lab.applyRunbookSample('data-storage-service');
  const state = async (): Promise<{ image: string | undefined; revision: string | undefined }> => {
    const d = await lab.primary.clients.apps.readNamespacedDeployment({ name: NAME, namespace: NS });
    return {
      image: d.spec!.template.spec!.containers[0]!.image,
      revision: d.metadata?.annotations?.[REVISION_ANNOTATION],
    };
  };
  await lab.check('before: v1.0.0 at revision 1, 2/2 ready', async () => {
    assert.deepEqual(await state(), { image: GOOD, revision: '1' });
  });
  return { postgres, server, state };
}

async function setImage(lab: Lab, tag: string, why = ''): Promise<void> {
  await lab.kubectl(['set', 'image', '-n', NS, `deployment/${NAME}`, `${NAME}=${IMAGE}:${tag}`]);
  lab.timeline.add('person', `kubectl set image deployment/${NAME} ${NAME}=${IMAGE}:${tag}${why}`);
}

/** Runbook 3: a stuck rollout rolled back; a second bad deploy within the hour left to a person. */
async function playStuckRollout(lab: Lab): Promise<void> {
  const { state } = await system(lab);

  // 1. A bad deploy: its pods never become ready, the rollout is stuck, it is rolled back.
  await setImage(lab, 'v1.1.0');
  const rem = await lab.remediationFor(ALERT);
  const done = await lab.waitPhase(rem.metadata.name!, 'Succeeded');
  const steps = stepsOf(done);
  await lab.check(
    'rolled back to the previous revision: v1.0.0 again (revision 3, from 2 to 1)',
    async () => {
      assert.deepEqual(await state(), { image: GOOD, revision: '3' });
      assert.deepEqual(steps.rollback?.before, { revision: 2 });
      assert.deepEqual(steps.rollback?.after, { revision: 1 });
    },
  );
  await lab.check(
    'as ServiceAccount default/data-storage-service, the guard read PostgreSQL first, then the rollout history: both met',
    () => {
      assert.equal(done.status?.identity, IDENTITY);
      assert.deepEqual(
        steps.rollback?.guard?.checks.map((c) => [c.name, c.result]),
        [
          ['postgres-ready', 'Met'],
          ['deployed-within-1h', 'Met'],
        ],
      );
    },
  );
  await lab.check('readiness, liveness and the REST API verified; #incidents told', () => {
    for (const s of ['wait-rollback', 'check-liveness', 'check-readiness', 'check-rest-api'])
      assert.equal(steps[s]?.phase, 'Succeeded', s);
    assert.match(lab.chatMessages('incidents').join('\n'), /rolled back to the previous\s+revision/);
  });
  await lab.outcome('resolved_marked');

  // 2. Safety: one automatic rollback per hour. A second stuck rollout is left to a person.
  await setImage(lab, 'v1.1.1', ' (another bad release)');
  await lab.outcome('suppressed_cooldown');
  await lab.check(
    'cooldown: the second stuck rollout within the hour is not rolled back automatically',
    async () => {
      assert.equal((await lab.remediations()).length, 1);
      assert.equal((await state()).image, `${IMAGE}:v1.1.1`);
    },
  );
  await lab.kubectl(['rollout', 'undo', '-n', NS, `deployment/${NAME}`]);
  lab.timeline.add('person', `kubectl rollout undo deployment/${NAME} (the on-call, as the seed's P0 says)`);
  await lab.rolledOut('Deployment', NS, NAME);
  await lab.waitFor(`${ALERT} resolved`, async () => !(await lab.firing(ALERT)));
}

/** Runbook 6 "P0: Service Down", a deploy the cause: PostgreSQL answers, a rollout within the hour. */
async function playDownAfterDeploy(lab: Lab): Promise<void> {
  const { server, state } = await system(lab);

  // v1.2.0 rolls out ready (no stuck rollout: the alert of Runbook 3 stays quiet) ...
  await setImage(lab, LEAKY);
  await lab.rolledOut('Deployment', NS, NAME);
  await lab.check(`${LEAKY} rolled out: revision 2, every pod ready`, async () => {
    assert.deepEqual(await state(), { image: `${IMAGE}:${LEAKY}`, revision: '2' });
  });
  // ... then its connection leak takes every pod out of the Service.
  server.leaking = true;
  lab.timeline.add('fault', `${LEAKY} leaks connections: readiness fails on every pod (${LEAK})`);
  const rem = await lab.remediationFor(DOWN);
  const done = await lab.waitPhase(rem.metadata.name!, 'Succeeded');
  const steps = stepsOf(done);
  await lab.check('DataStorageServiceDown answered, not the stuck-rollout alert', async () => {
    assert.equal(done.spec.alert?.name, DOWN);
    assert.equal(await lab.firing(ALERT), false);
  });
  await lab.check(
    'the guard read PostgreSQL first (answers), then the rollout history (v1.2.0 within the hour)',
    () => {
      assert.equal(done.status?.identity, IDENTITY);
      assert.deepEqual(
        steps.rollback?.guard?.checks.map((c) => [c.name, c.result]),
        [
          ['postgres-ready', 'Met'],
          ['deployed-within-1h', 'Met'],
        ],
      );
    },
  );
  await lab.check('rolled back from revision 2 to 1: v1.0.0 again (revision 3)', async () => {
    assert.deepEqual(await state(), { image: GOOD, revision: '3' });
    assert.deepEqual(steps.rollback?.before, { revision: 2 });
    assert.deepEqual(steps.rollback?.after, { revision: 1 });
  });
  await lab.check('readiness, liveness and the REST API verified; #incidents told', () => {
    for (const s of ['wait-rollback', 'check-liveness', 'check-readiness', 'check-rest-api'])
      assert.equal(steps[s]?.phase, 'Succeeded', s);
    assert.match(lab.chatMessages('incidents').join('\n'), /rolled back to the previous\s+revision/);
  });
  await lab.waitFor(`${DOWN} resolved`, async () => !(await lab.firing(DOWN)));
  await lab.outcome('resolved_marked');
}

/** Runbook 6 "P0: Service Down", PostgreSQL the cause: checked first, nothing rolled back. */
async function playDownPostgres(lab: Lab): Promise<void> {
  const { postgres, state } = await system(lab);

  lab.timeline.add('fault', `PostgreSQL (pid ${postgres.pid}) stopped: readiness fails on every pod`);
  await postgres.stop();
  const rem = await lab.remediationFor(DOWN);
  const done = await lab.waitPhase(rem.metadata.name!, 'Skipped');
  const steps = stepsOf(done);
  const succeeded = done.status?.conditions?.find((c) => c.type === 'Succeeded');
  await lab.check('PostgreSQL read first: not answering, the run ends Skipped naming it', () => {
    assert.match(succeeded?.message ?? '', /postgres-ready/);
    const read = steps.rollback?.guard?.checks ?? [];
    assert.deepEqual(
      read.map((c) => c.name),
      ['postgres-ready'],
      'the rollout history is not read once PostgreSQL does not answer',
    );
    assert.notEqual(read[0]?.result, 'Met');
  });
  await lab.check('nothing rolled back: v1.0.0 at revision 1, no rollback step ran', async () => {
    assert.deepEqual(await state(), { image: GOOD, revision: '1' });
    assert.equal(steps.rollback?.phase, 'Pending');
    assert.equal(steps.rollback?.after, undefined);
    assert.equal(await lab.firing(ALERT), false);
    assert.equal((await lab.remediations()).length, 1);
  });
  await postgres.start();
  lab.timeline.add('heal', `PostgreSQL back (pid ${postgres.pid})`);
  await lab.rolledOut('Deployment', NS, NAME);
  await lab.waitFor(`${DOWN} resolved`, async () => !(await lab.firing(DOWN)));
  await lab.check('PostgreSQL back: the service is up on the same revision, nothing changed', async () => {
    assert.deepEqual(await state(), { image: GOOD, revision: '1' });
  });
}

export const dataStorageService: Scenario = {
  seed: 'data-storage-service',
  summary:
    'bad v1.1.0 rollout stuck → KubeDeploymentRolloutStuck → guard (PostgreSQL, recent rollout) met → rollout undo to v1.0.0, readiness and REST API verified; a second bad deploy within the hour is left to a person',
  play: playStuckRollout,
};

export const dataStorageServiceDownDeploy: Scenario = {
  seed: 'data-storage-service',
  name: 'data-storage-service-down-deploy',
  summary:
    'P0: v1.2.0 rolled out, then every pod unready → DataStorageServiceDown → guard: PostgreSQL answers, rollout within the hour → rollout undo to v1.0.0, verified',
  play: playDownAfterDeploy,
};

export const dataStorageServiceDownPostgres: Scenario = {
  seed: 'data-storage-service',
  name: 'data-storage-service-down-postgres',
  summary:
    'P0: PostgreSQL stopped → service down → DataStorageServiceDown → guard reads PostgreSQL first: not answering → Skipped, nothing rolled back',
  play: playDownPostgres,
};
