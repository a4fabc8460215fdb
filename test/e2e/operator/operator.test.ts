/**
 * The operator as users run it: a separate process (`kube-remediator run`) against the real
 * control plane. Alerts in through the webhook, remediation, revert on resolve; SIGKILL at the
 * worst instants; two replicas with one leader; a real Prometheus scraping it with the chart's
 * alerting rules.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { Remediation } from '../../../src/api/v1alpha1/schema.js';
import { remediations } from '../../../src/kube/resources.js';
import { freePort } from '../../../tools/cluster/cluster.js';
import { startFakeKubelet, type FakeKubelet } from '../../../tools/cluster/fake-kubelet.js';
import {
  createDeployment,
  createNamespace,
  deleteNamespace,
  kubectl,
  testClients,
  testKubeConfig,
  waitDeploymentReady,
  waitFor,
} from '../../support/kube.js';
import { isolatedOperatorEntry, startOperator, type OperatorProcess } from '../../support/operator.js';
import { execa } from 'execa';
import yaml from 'js-yaml';
import pg from 'pg';
import { renderedPrometheusRule } from '../../support/helm.js';
import { ensureAlertmanager, startAlertmanager, startPrometheus } from '../../support/services.js';

const TOKEN = 'e2e-webhook-token';

let ns: string;
let kubelet: FakeKubelet;
const procs: OperatorProcess[] = [];

async function operator(
  extra: Record<string, string> = {},
): Promise<{ proc: OperatorProcess; webhook: string; probes: string }> {
  const [wp, pp] = [await freePort(), await freePort()];
  const proc = startOperator({
    env: {
      KR_WATCH_NAMESPACE: ns,
      KR_LEADER_ELECTION_NAMESPACE: ns,
      KR_WEBHOOK_HOST: '127.0.0.1',
      KR_WEBHOOK_PORT: String(wp),
      KR_PROBES_HOST: '127.0.0.1',
      KR_PROBES_PORT: String(pp),
      KR_WEBHOOK_BEARER_TOKEN: TOKEN,
      // A renewal stalled for 3 s on a loaded machine made the leader exit mid-test.
      KR_LEASE_DURATION: '6s',
      KR_RENEW_DEADLINE: '4500ms',
      KR_RETRY_PERIOD: '500ms',
      ...extra,
    },
  });
  procs.push(proc);
  return { proc, webhook: `http://127.0.0.1:${wp}/api/v1/alerts`, probes: `http://127.0.0.1:${pp}` };
}

function runbook(name: string, deployment: string, steps: unknown[]): unknown {
  return {
    apiVersion: 'kube-remediator.io/v1alpha1',
    kind: 'Runbook',
    metadata: { name, namespace: ns },
    spec: {
      triggers: [
        { alertname: 'WebDegraded', matchers: [{ label: 'deployment', op: '=', value: deployment }] },
      ],
      params: [{ name: 'deployment', from: 'labels.deployment' }],
      target: { apiVersion: 'apps/v1', kind: 'Deployment', name: '{{ deployment }}' },
      steps,
    },
  };
}

function alertPayload(status: 'firing' | 'resolved', deployment: string, fingerprint: string): unknown {
  const startsAt = '2026-11-24T01:00:00Z';
  return {
    version: '4',
    groupKey: '{}:{alertname="WebDegraded"}',
    truncatedAlerts: 0,
    status,
    receiver: 'kube-remediator',
    groupLabels: { alertname: 'WebDegraded' },
    commonLabels: { alertname: 'WebDegraded' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    alerts: [
      {
        status,
        labels: { alertname: 'WebDegraded', deployment, namespace: ns, severity: 'critical' },
        annotations: { summary: `${deployment} is degraded` },
        startsAt,
        endsAt: status === 'resolved' ? '2026-11-24T01:10:00Z' : '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus/graph',
        fingerprint,
      },
    ],
  };
}

async function post(url: string, body: unknown): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(body),
  });
}

async function apply(obj: unknown): Promise<void> {
  const res = await kubectl(['apply', '-f', '-'], { input: JSON.stringify(obj) });
  if (res.exitCode !== 0) throw new Error(res.stderr);
}

const rems = () => remediations(testClients());

async function waitPhase(name: string, phase: string, timeoutMs = 60_000): Promise<Remediation> {
  return waitFor(
    async () => {
      const r = await rems().get(ns, name);
      return r.status?.phase === phase ? r : undefined;
    },
    { timeoutMs, what: `remediation ${name} in phase ${phase}` },
  );
}

async function replicaSetsOf(deployment: string): Promise<number> {
  const list = await testClients().apps.listNamespacedReplicaSet({
    namespace: ns,
    labelSelector: `app=${deployment}`,
  });
  return list.items.length;
}

function handMade(name: string, runbookName: string, deployment: string): unknown {
  return {
    apiVersion: 'kube-remediator.io/v1alpha1',
    kind: 'Remediation',
    metadata: { name, namespace: ns },
    spec: { runbookRef: { name: runbookName }, params: { deployment } },
  };
}

const RESTART_THEN_WAIT = [
  { name: 'restart', action: 'rolloutRestart', rolloutRestart: {} },
  { name: 'wait', action: 'waitForRollout', waitForRollout: {}, timeout: '1m' },
];

/** A database of this file's own in the shared PostgreSQL, for the audit log. */
const AUDIT_DB = `kr_e2e_audit_${process.pid}`;
const AUDIT_URL = `postgres://postgres@127.0.0.1:5432/${AUDIT_DB}`;

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  await admin((c) =>
    c.query(`DROP DATABASE IF EXISTS ${AUDIT_DB}`).then(() => c.query(`CREATE DATABASE ${AUDIT_DB}`)),
  );
  ns = await createNamespace('operator');
  kubelet = startFakeKubelet(testKubeConfig(), { namespace: ns });
});

afterEach(async () => {
  for (const p of procs.splice(0)) {
    p.kill('SIGKILL');
    await p.exited;
  }
  // The killed leader's Lease would make the next test's operator wait for it to run out.
  await testClients().coordination.deleteCollectionNamespacedLease({ namespace: ns });
});

afterAll(async () => {
  kubelet.stop();
  await deleteNamespace(ns);
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${AUDIT_DB} WITH (FORCE)`));
});

describe('kube-remediator run', () => {
  it('answers an Alertmanager webhook, remediates, and reverts when the alert resolves', async () => {
    await createDeployment(ns, 'web', { replicas: 2, env: [{ name: 'MODE', value: 'normal' }] });
    await waitDeploymentReady(ns, 'web');
    await apply(
      runbook('web-degraded', 'web', [
        {
          name: 'degrade',
          action: 'setEnv',
          revertOnResolve: true,
          setEnv: {
            env: [
              { name: 'MODE', value: 'degraded' },
              { name: 'DEDUP_BACKEND', value: 'memory' },
            ],
          },
        },
        { name: 'wait', action: 'waitForRollout', waitForRollout: {}, timeout: '1m' },
      ]),
    );
    // Production wiring: Redis for cooldowns and rate limits, PostgreSQL for the audit log.
    const { proc, webhook, probes } = await operator({
      KR_STORE: 'redis',
      KR_REDIS_URL: 'redis://127.0.0.1:6379/0',
      KR_REDIS_KEY_PREFIX: `kr-e2e-${process.pid}:`,
      KR_AUDIT_POSTGRES_URL: AUDIT_URL,
    });
    await waitFor(async () => (await fetch(`${probes}/readyz`)).ok, {
      what: 'operator ready',
      timeoutMs: 30_000,
    });
    await waitFor(
      async () =>
        (await rems().list(ns)).items.length === 0 &&
        (
          await kubectl([
            'get',
            'rb',
            'web-degraded',
            '-n',
            ns,
            '-o',
            'jsonpath={.status.conditions[0].status}',
          ])
        ).stdout === 'True',
      {
        what: 'runbook Ready',
      },
    );

    const res = await post(webhook, alertPayload('firing', 'web', 'a1b2c3d4e5f60718'));
    expect(res.status).toBe(200);
    const [created] = await waitFor(async () => {
      const items = (await rems().list(ns)).items;
      return items.length === 1 ? items : undefined;
    });
    const done = await waitPhase(created!.metadata.name!, 'Succeeded');
    expect(done.status?.progress).toBe('2/2');
    const degrade = done.status!.steps![0]!;
    expect(degrade.phase).toBe('Succeeded');
    expect(JSON.stringify(degrade.before)).toContain('normal');
    const d1 = await testClients().apps.readNamespacedDeployment({ name: 'web', namespace: ns });
    const env1 = d1.spec!.template.spec!.containers[0]!.env!;
    expect(env1).toEqual(
      expect.arrayContaining([
        { name: 'MODE', value: 'degraded' },
        { name: 'DEDUP_BACKEND', value: 'memory' },
      ]),
    );

    // The same notification again (Alertmanager repeats): no second Remediation.
    expect((await post(webhook, alertPayload('firing', 'web', 'a1b2c3d4e5f60718'))).status).toBe(200);
    expect((await rems().list(ns)).items).toHaveLength(1);

    expect((await post(webhook, alertPayload('resolved', 'web', 'a1b2c3d4e5f60718'))).status).toBe(200);
    await waitPhase(created!.metadata.name!, 'Reverted');
    const d2 = await testClients().apps.readNamespacedDeployment({ name: 'web', namespace: ns });
    expect(d2.spec!.template.spec!.containers[0]!.env).toEqual([{ name: 'MODE', value: 'normal' }]);

    const table = await kubectl(['get', 'remediations', '-n', ns]);
    expect(table.stdout).toMatch(/Reverted\s+web-degraded\s+Deployment\/web/);
    const metrics = await (await fetch(`${probes}/metrics`)).text();
    expect(metrics).toMatch(/kube_remediator_alerts_total\{outcome="created"\} 1/);
    expect(metrics).toMatch(/kube_remediator_alerts_total\{outcome="duplicate"\} 1/);
    expect(proc.logs().some((l) => l.includes('"message":"webhook listening"'))).toBe(true);
    expect(metrics).toMatch(/kube_remediator_store_fallback\{store="redis"\} 0/);

    // The audit trail, through the CLI a person would use.
    const audit = await waitFor(
      async () => {
        const res = await execa(
          process.execPath,
          [
            isolatedOperatorEntry(),
            'audit',
            '--since',
            '1h',
            '--runbook',
            'web-degraded',
            '--output',
            'json',
            '--postgres-url',
            AUDIT_URL,
          ],
          {
            reject: false,
          },
        );
        const rows = res.exitCode === 0 ? (JSON.parse(res.stdout) as { event: string; step?: string }[]) : [];
        return rows.some((r) => r.event === 'reverted') ? rows : undefined;
      },
      { what: 'audit rows up to the revert', timeoutMs: 20_000 },
    );
    const events = audit.map((r) => r.event);
    expect(events[0]).toBe('created');
    expect(events).toEqual(expect.arrayContaining(['step_started', 'step_finished', 'finished', 'reverted']));
    expect(events.indexOf('finished')).toBeLessThan(events.indexOf('reverted'));
    const auditTable = await execa(process.execPath, [
      isolatedOperatorEntry(),
      'audit',
      '--since',
      '1h',
      '--runbook',
      'web-degraded',
      '--postgres-url',
      AUDIT_URL,
    ]);
    expect(auditTable.stdout).toContain('degrade');
  });

  it.each([
    ['between the checkpoint and the action', 'after-checkpoint', 'crash-a'],
    ['right after the action, before recording it', 'after-apply', 'crash-b'],
  ])('SIGKILLed %s, restarts the workload exactly once and skips no step', async (_when, failpoint, name) => {
    await createDeployment(ns, name, { replicas: 1 });
    await waitDeploymentReady(ns, name);
    expect(await replicaSetsOf(name)).toBe(1);
    await apply(runbook(`rb-${name}`, name, RESTART_THEN_WAIT));
    const first = await operator({ KR_FAILPOINTS: failpoint, KR_LEADER_ELECTION: 'false' });
    await apply(handMade(`rem-${name}`, `rb-${name}`, name));
    await first.proc.exited; // killed itself at the failpoint
    const mid = await rems().get(ns, `rem-${name}`);
    expect(mid.status?.steps?.[0]?.phase).toBe('Running');
    const restarted = (await testClients().apps.readNamespacedDeployment({ name, namespace: ns })).spec!
      .template.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt'];
    expect(Boolean(restarted)).toBe(failpoint === 'after-apply');

    await operator({ KR_LEADER_ELECTION: 'false' });
    const done = await waitPhase(`rem-${name}`, 'Succeeded');
    expect(done.status!.steps!.map((s) => s.phase)).toEqual(['Succeeded', 'Succeeded']);
    expect(done.status!.steps![0]!.attempt).toBe(1);
    await waitDeploymentReady(ns, name);
    expect(await replicaSetsOf(name)).toBe(2); // the original and exactly one restart
  });

  it('runs two replicas with one leader; when the leader is SIGKILLed the other finishes the work', async () => {
    await createDeployment(ns, 'ha', { replicas: 1 });
    await waitDeploymentReady(ns, 'ha');
    await apply(runbook('rb-ha', 'ha', RESTART_THEN_WAIT));
    const a = await operator({ KR_LEADER_IDENTITY: 'replica-a', KR_LEASE_NAME: 'ha-lease' });
    await waitFor(
      async () =>
        (await testClients().coordination.readNamespacedLease({ name: 'ha-lease', namespace: ns })).spec
          ?.holderIdentity === 'replica-a',
      {
        what: 'replica-a leads',
      },
    );
    const b = await operator({ KR_LEADER_IDENTITY: 'replica-b', KR_LEASE_NAME: 'ha-lease' });
    await waitFor(async () => (await fetch(`${b.probes}/readyz`)).ok, { what: 'replica-b ready (standby)' });

    await apply(handMade('rem-ha-1', 'rb-ha', 'ha'));
    await waitPhase('rem-ha-1', 'Succeeded');
    expect(b.proc.logs().filter((l) => l.includes('"message":"phase changed"'))).toEqual([]);
    expect(a.proc.logs().some((l) => l.includes('"message":"phase changed"'))).toBe(true);

    a.proc.kill('SIGKILL');
    await a.proc.exited;
    await apply(handMade('rem-ha-2', 'rb-ha', 'ha'));
    await waitFor(
      async () =>
        (await testClients().coordination.readNamespacedLease({ name: 'ha-lease', namespace: ns })).spec
          ?.holderIdentity === 'replica-b',
      {
        what: 'replica-b takes over',
        timeoutMs: 30_000,
      },
    );
    await waitPhase('rem-ha-2', 'Succeeded');
    expect(b.proc.logs().some((l) => l.includes('"message":"phase changed"'))).toBe(true);
  });

  it('exits 3 with a message that says what to do when it cannot start (and does not hang on Redis)', async () => {
    const { proc } = await operator({
      KR_WEBHOOK_BEARER_TOKEN: '',
      KR_WEBHOOK_BEARER_TOKEN_FILE: '/nonexistent/webhook-token',
      KR_STORE: 'redis',
      KR_REDIS_URL: 'redis://127.0.0.1:1/0',
    });
    expect(await proc.exited).toBe(3);
    expect(proc.logs().join('\n')).toMatch(/KR_ERR_CONFIG/);
  });

  it('two Remediations set the same variable: the first revert waits for the second', async () => {
    await createDeployment(ns, 'layered', { replicas: 1 });
    await waitDeploymentReady(ns, 'layered');
    await apply(
      runbook('degrade-layered', 'layered', [
        {
          name: 'degrade',
          action: 'setEnv',
          setEnv: { env: [{ name: 'DEGRADED', value: 'true' }] },
          revertOnResolve: true,
        },
      ]),
    );
    await operator({ KR_LEADER_IDENTITY: 'layers', KR_LEASE_NAME: 'layers-lease' });
    const env = async () =>
      (
        await testClients().apps.readNamespacedDeployment({ name: 'layered', namespace: ns })
      ).spec?.template.spec?.containers[0]?.env?.find((e) => e.name === 'DEGRADED')?.value;

    await apply(handMade('rem-layer-1', 'degrade-layered', 'layered'));
    await waitPhase('rem-layer-1', 'Succeeded');
    await apply(handMade('rem-layer-2', 'degrade-layered', 'layered'));
    const second = await waitPhase('rem-layer-2', 'Succeeded');
    expect(second.status?.steps?.[0]?.layeredOn?.map((l) => l.remediation)).toEqual([`${ns}/rem-layer-1`]);

    // The first one's alert resolves: held, the variable stays.
    await kubectl(['annotate', '-n', ns, 'rem', 'rem-layer-1', 'kube-remediator.io/revert=true']);
    const held = await waitFor(
      async () => {
        const r = await rems().get(ns, 'rem-layer-1');
        const c = r.status?.conditions?.find((x) => x.type === 'Blocked');
        return c?.status === 'True' && c.reason === 'RevertHeld' ? r : undefined;
      },
      { what: 'rem-layer-1 held' },
    );
    expect(held.status?.phase).toBe('Succeeded');
    expect(await env()).toBe('true');

    // The second one's: it reverts, and that wakes the first, which reverts too.
    await kubectl(['annotate', '-n', ns, 'rem', 'rem-layer-2', 'kube-remediator.io/revert=true']);
    await waitPhase('rem-layer-2', 'Reverted');
    await waitPhase('rem-layer-1', 'Reverted');
    expect(await env()).toBeUndefined();
  });

  it('the bundle loads the Redis and PostgreSQL drivers when a step needs them', async () => {
    // The drivers are imported lazily and bundled into their own chunks: a named import that
    // works from the TypeScript sources can be missing from a bundled CommonJS package.
    await operator({ KR_LEADER_IDENTITY: 'drivers', KR_LEASE_NAME: 'drivers-lease' });
    await apply({
      apiVersion: 'kube-remediator.io/v1alpha1',
      kind: 'Remediation',
      metadata: { name: 'rem-drivers', namespace: ns },
      spec: {
        steps: [
          {
            name: 'redis-ping',
            action: 'redisCheck',
            timeout: '20s',
            redisCheck: { url: 'redis://127.0.0.1:6379/0', command: ['PING'], expect: 'PONG' },
          },
          {
            name: 'postgres-select',
            action: 'postgresCheck',
            timeout: '20s',
            postgresCheck: {
              url: 'postgres://postgres@127.0.0.1:5432/postgres',
              query: 'SELECT 1',
              expect: '1',
            },
          },
        ],
      },
    });
    const rem = await waitPhase('rem-drivers', 'Succeeded');
    expect(rem.status?.steps?.map((s) => s.phase)).toEqual(['Succeeded', 'Succeeded']);
  });

  it('on SIGTERM goes unready, releases the Lease and exits 0', async () => {
    const a = await operator({ KR_LEADER_IDENTITY: 'term-a', KR_LEASE_NAME: 'term-lease' });
    await waitFor(
      async () =>
        (await testClients().coordination.readNamespacedLease({ name: 'term-lease', namespace: ns })).spec
          ?.holderIdentity === 'term-a',
      {
        what: 'term-a leads',
      },
    );
    a.proc.kill('SIGTERM');
    expect(await a.proc.exited).toBe(0);
    const lease = await testClients().coordination.readNamespacedLease({ name: 'term-lease', namespace: ns });
    expect(lease.spec?.holderIdentity ?? '').not.toBe('term-a');
  });
});

describe('kube-remediator run, scraped by a real Prometheus that evaluates the chart’s alerts', () => {
  it('a prometheusQuery step asks it, and a failed remediation fires KubeRemediatorRemediationFailed', async () => {
    const { probes } = await operator({ KR_LEASE_NAME: 'prom-lease' });
    await waitFor(async () => (await fetch(`${probes}/readyz`)).ok, { what: 'operator ready' });
    const rule = await renderedPrometheusRule(['--set', 'prometheusRule.enabled=true']);
    // The chart's default selector is the ServiceMonitor's job and namespace: for release "kr"
    // in namespace "ops", job="kr-kube-remediator",namespace="ops".
    const prom = await startPrometheus({
      targets: [
        { job: 'kr-kube-remediator', address: probes.replace('http://', ''), labels: { namespace: 'ops' } },
      ],
      rules: yaml.dump({ groups: rule!.spec.groups }),
    });
    try {
      await waitFor(
        async () =>
          (
            await prom.query('max(leader_election_master_status{job="kr-kube-remediator",namespace="ops"})')
          )[0]?.value === 1,
        { what: 'Prometheus sees a leader' },
      );

      // A step that asks this Prometheus (a real one, not a double): the operator is scraped.
      await createDeployment(ns, 'prom-web', { replicas: 1 });
      await apply(
        runbook('rb-prom', 'prom-web', [
          {
            name: 'scraped',
            action: 'prometheusQuery',
            timeout: '30s',
            prometheusQuery: {
              url: prom.url,
              query: 'up{job="kr-kube-remediator"}',
              expect: { op: '==', value: 1 },
            },
          },
        ]),
      );
      await apply(handMade('rem-prom', 'rb-prom', 'prom-web'));
      expect((await waitPhase('rem-prom', 'Succeeded')).status?.steps?.[0]?.phase).toBe('Succeeded');

      // A remediation that fails (its target does not exist) fires the alert, with no `for`.
      await apply(
        runbook('rb-prom-fail', 'prom-web', [{ name: 'up', action: 'scale', scale: { replicas: 2 } }]),
      );
      // A runbook's series start at 0 when the Runbook is seen: once scraped, its first end is
      // an increase (a Runbook older than a scrape interval, as in production, needs no wait).
      await waitFor(
        async () =>
          (
            await prom.query(
              'kube_remediator_remediations_finished_total{runbook="rb-prom-fail",result="failed"}',
            )
          )[0]?.value === 0,
        { what: 'rb-prom-fail’s series scraped at 0' },
      );
      await apply(handMade('rem-prom-fail', 'rb-prom-fail', 'no-such-deployment'));
      await waitPhase('rem-prom-fail', 'Failed');
      const firing = await waitFor(
        async () =>
          (await prom.alerts()).find(
            (a) => a.labels.alertname === 'KubeRemediatorRemediationFailed' && a.state === 'firing',
          ),
        { what: 'KubeRemediatorRemediationFailed firing' },
      ).catch(async (err: unknown) => {
        const seen = await prom.query('kube_remediator_remediations_finished_total');
        const alerts = await prom.alerts();
        throw new Error(`${String(err)}; counters ${JSON.stringify(seen)}; alerts ${JSON.stringify(alerts)}`);
      });
      expect(firing.labels).toMatchObject({ result: 'failed', severity: 'warning' });
      // increase() extrapolates a little past the last scrape: about 1, not exactly.
      expect(firing.annotations.description).toMatch(/^1(\.\d+)? remediation\(s\) ended failed/);
      // Up, leading, no errors: nothing else fires.
      expect(
        (await prom.alerts())
          .filter((a) => a.state === 'firing' && a.labels.alertname !== 'KubeRemediatorRemediationFailed')
          .map((a) => a.labels.alertname),
      ).toEqual([]);
    } finally {
      await prom.destroy();
    }
  });

  it('the whole pipeline: a rule fires, Alertmanager notifies, it remediates; the alert resolves, it reverts', async () => {
    await createDeployment(ns, 'pipe-web', { replicas: 1, env: [{ name: 'MODE', value: 'normal' }] });
    await apply(
      runbook('rb-pipe', 'pipe-web', [
        {
          name: 'degrade',
          action: 'setEnv',
          setEnv: { env: [{ name: 'MODE', value: 'degraded' }] },
          revertOnResolve: true,
        },
      ]),
    );
    const { webhook, probes } = await operator({ KR_LEASE_NAME: 'pipe-lease' });
    await waitFor(async () => (await fetch(`${probes}/readyz`)).ok, { what: 'operator ready' });
    await ensureAlertmanager();
    const am = await startAlertmanager({ webhookUrl: webhook, token: TOKEN });
    try {
      // An alert that fires until this operator has finished a remediation successfully: it
      // fires, the remediation it starts succeeds, and that resolves it.
      const rules = yaml.dump({
        groups: [
          {
            name: 'workload',
            rules: [
              {
                alert: 'WebDegraded',
                expr: 'max(kube_remediator_remediations_finished_total{job="pipe",result="succeeded"}) < 1',
                labels: { deployment: 'pipe-web', namespace: ns, severity: 'critical' },
              },
            ],
          },
        ],
      });
      const prom = await startPrometheus({
        targets: [{ job: 'pipe', address: probes.replace('http://', '') }],
        rules,
        alertmanager: am.url,
      });
      const env = async () =>
        (
          await testClients().apps.readNamespacedDeployment({ name: 'pipe-web', namespace: ns })
        ).spec?.template.spec?.containers[0]?.env?.find((e) => e.name === 'MODE')?.value;
      const ofPipe = async () =>
        (await rems().list(ns)).items.filter((r) => r.spec.runbookRef?.name === 'rb-pipe');
      try {
        const done = await waitFor(
          async () => (await ofPipe()).find((r) => r.status?.phase === 'Succeeded'),
          {
            what: `a Remediation from the rule, done (Alertmanager: ${am.output.slice(-5).join(' | ')})`,
          },
        );
        expect(done.spec.alert?.name).toBe('WebDegraded');
        expect(await env()).toBe('degraded');
        const reverted = await waitFor(
          async () => (await ofPipe()).find((r) => r.status?.phase === 'Reverted'),
          { what: 'the resolved alert reverted', timeoutMs: 60_000 },
        );
        expect(reverted.metadata.name).toBe(done.metadata.name);
        expect(await env()).toBe('normal');
        expect(await ofPipe()).toHaveLength(1);
      } finally {
        await prom.destroy();
      }
    } finally {
      await am.stop();
    }
  });
});
