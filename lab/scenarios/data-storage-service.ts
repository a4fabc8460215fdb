/**
 * Seed data-storage-service.md, Runbook 3 "Rollback": a new datastorage version's pods never
 * become ready, the rollout is stuck (KubeDeploymentRolloutStuck), the Runbook rolls back to
 * the previous revision and verifies the health and REST endpoints. Before that, the same
 * service goes down because PostgreSQL is down: that is not a deploy's fault and nothing may
 * be rolled back. After it, a second bad deploy within the hour is left to a person.
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
/** The stand-in's bad releases and why their readiness fails. */
const BAD: Record<string, string> = {
  'v1.1.0': 'schema migration 0042 not applied: relation "incident_labels" does not exist',
  'v1.1.1': 'panic: nil map in config loader',
};

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

const tagOf = (image: string | undefined): string => (image ?? '').split(':').pop() ?? '';

/** The datastorage server as its Service answers: health of a version, incidents from PostgreSQL. */
function serverStandIn(lab: Lab, dbUrl: string): StandIn {
  const s = new StandIn('datastorage (health and REST API)');
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

async function play(lab: Lab): Promise<void> {
  await lab.region('lab');
  await lab.apply(manifests);
  const postgres = await lab.postgres('action_history database');
  const server = await lab.standIn(serverStandIn(lab, await database(postgres)));
  lab.address('service', server.host, server.port);
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
        // Address params (ADR 0016): the rollback's guard asks the lab's PostgreSQL (pg_isready).
        labels: { severity: 'critical', postgres_host: '127.0.0.1', postgres_port: String(postgres.port) },
        annotations: {
          summary: 'Deployment {{ $labels.namespace }}/{{ $labels.deployment }} rollout is not progressing',
        },
      },
      {
        // Not answered (yet): a service down is not by itself a deploy's fault; the rollback's
        // guard would skip it, and answering it is left for the lab to play (see the Runbook).
        alert: 'DataStorageServiceDown',
        expr: 'kube_deployment_status_replicas_available{deployment="datastorage"} == 0',
        labels: { severity: 'critical' },
      },
    ],
  });
  await lab.notifySecret('incidents-slack-webhook', 'incidents');
  await lab.applyRunbookSample('data-storage-service');
  const dep = async () => lab.primary.clients.apps.readNamespacedDeployment({ name: NAME, namespace: NS });
  const state = async () => {
    const d = await dep();
    return {
      image: d.spec!.template.spec!.containers[0]!.image,
      revision: d.metadata?.annotations?.[REVISION_ANNOTATION],
    };
  };
  await lab.check('before: v1.0.0 at revision 1, 2/2 ready', async () => {
    assert.deepEqual(await state(), { image: GOOD, revision: '1' });
  });

  // 1. The service is down because PostgreSQL is: no deploy to blame, nothing rolled back.
  lab.timeline.add('fault', `PostgreSQL (pid ${postgres.pid}) stopped: readiness fails on every pod`);
  await postgres.stop();
  // The Runbook does not answer DataStorageServiceDown; if it did, the rollback's guard
  // ("only if a deploy is the cause", PostgreSQL answering) would end it Skipped here.
  await lab.outcome('unmatched');
  await lab.check('PostgreSQL down: DataStorageServiceDown answered by no Runbook, no rollback', async () => {
    assert.equal((await lab.remediations()).length, 0);
    assert.deepEqual(await state(), { image: GOOD, revision: '1' });
    assert.equal(await lab.firing(ALERT), false);
  });
  await postgres.start();
  lab.timeline.add('heal', `PostgreSQL back (pid ${postgres.pid})`);
  await lab.rolledOut('Deployment', NS, NAME);

  // 2. A bad deploy: its pods never become ready, the rollout is stuck, it is rolled back.
  await lab.kubectl(['set', 'image', '-n', NS, `deployment/${NAME}`, `${NAME}=${IMAGE}:v1.1.0`]);
  lab.timeline.add('person', `kubectl set image deployment/${NAME} ${NAME}=${IMAGE}:v1.1.0`);
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
  await lab.check('readiness, liveness and the REST API verified; #incidents told', () => {
    for (const s of ['wait-rollback', 'check-liveness', 'check-readiness', 'check-rest-api'])
      assert.equal(steps[s]?.phase, 'Succeeded', s);
    assert.match(lab.chatMessages('incidents').join('\n'), /rolled back to the previous\s+revision/);
  });
  await lab.outcome('resolved_marked');

  // 3. Safety: one automatic rollback per hour. A second stuck rollout is left to a person.
  await lab.kubectl(['set', 'image', '-n', NS, `deployment/${NAME}`, `${NAME}=${IMAGE}:v1.1.1`]);
  lab.timeline.add(
    'person',
    `kubectl set image deployment/${NAME} ${NAME}=${IMAGE}:v1.1.1 (another bad release)`,
  );
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

export const dataStorageService: Scenario = {
  seed: 'data-storage-service',
  summary:
    'PostgreSQL down → service down but no rollback; bad v1.1.0 rollout stuck → KubeDeploymentRolloutStuck → rollout undo to v1.0.0, readiness and REST API verified; a second bad deploy within the hour is left to a person',
  play,
};
