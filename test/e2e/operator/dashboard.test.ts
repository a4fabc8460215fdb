/**
 * The chart's Grafana dashboard against real data: a real Prometheus scrapes a running operator
 * (`kube-remediator run`, cooldowns in a private Redis) through a scenario that gives every panel
 * something to show (a remediation that succeeds and is reverted, one whose revert fails, one
 * that fails, one that waits for approval, a suppressed alert, a refused webhook call, the store
 * lost). Then every query of the shipped JSON runs as Grafana would run it, with the variables
 * filled in, and must return the series its panel is meant to show.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DASHBOARD_FILE } from '../../../scripts/gen-dashboard.js';
import { remediations } from '../../../src/kube/resources.js';
import { freePort } from '../../../tools/cluster/cluster.js';
import {
  createDeployment,
  createNamespace,
  deleteNamespace,
  kubectl,
  testClients,
  waitFor,
} from '../../support/kube.js';
import { startOperator, type OperatorProcess } from '../../support/operator.js';
import { startPrometheus, startRedis, type TestPrometheus, type TestRedis } from '../../support/services.js';

const TOKEN = 'e2e-dashboard-token';
const CLUSTER = 'e2e-dash';

interface Target {
  expr: string;
  refId: string;
  instant?: boolean;
}
interface Panel {
  type: string;
  title: string;
  targets?: Target[];
}

/** A series of a query's answer: its labels include `labels`, and its values pass `check`. */
interface Want {
  labels: Record<string, string>;
  check?: (values: number[]) => boolean;
  what?: string;
}
const positive = (v: number[]): boolean => v.some((x) => x > 0);
const finite = (v: number[]): boolean => v.some((x) => Number.isFinite(x));
const series = (labels: Record<string, string>, check = positive, what = 'a value > 0'): Want => ({
  labels,
  check,
  what,
});

/** What each panel must show after the scenario; a panel missing here fails the test. */
const EXPECTED: Record<string, Want[]> = {
  'Remediations started': [series({})],
  Failures: [series({}, (v) => v.some((x) => x >= 2), 'at least 2 (failed, revert_failed)')],
  'Awaiting approval now': [series({}, (v) => v.includes(1), '1')],
  'Stores in fallback now': [series({}, (v) => v.includes(1), '1')],
  'Remediations started, by runbook': [series({ runbook: 'dash-degrade' }), series({ runbook: 'dash-fail' })],
  'Remediations finished, by result': ['succeeded', 'failed', 'reverted', 'revert_failed'].map((result) =>
    series({ result }),
  ),
  'Remediations finished, by runbook and result': [
    series({ runbook: 'dash-degrade', result: 'succeeded' }),
    series({ runbook: 'dash-fail', result: 'failed' }),
  ],
  'Actions, by action and result': [series({ action: 'setEnv', result: 'success' })],
  'Time from alert to first action': [series({ runbook: 'dash-degrade' }, finite, 'a latency')],
  'Time from alert to finish': [
    series({ runbook: 'dash-degrade' }, finite, 'a latency'),
    series({ runbook: 'dash-fail' }, finite, 'a latency'),
  ],
  'Reverts and revert failures': [
    series({ runbook: 'dash-degrade', result: 'reverted' }),
    series({ runbook: 'dash-degrade', result: 'revert_failed' }),
  ],
  'Awaiting approval, by runbook': [series({ runbook: 'dash-approve' }, (v) => v.includes(1), '1')],
  'Alerts suppressed, by reason': [series({ outcome: 'suppressed_cooldown' })],
  'Alerts, by outcome': [series({ outcome: 'created' }), series({ outcome: 'resolved_marked' })],
  'Webhook answers, by status code': [series({ code: '200' }), series({ code: '401' })],
  'Store fallback': [
    series({ cluster: CLUSTER, store: 'redis' }, (v) => v.includes(0) && v.includes(1), '0, then 1'),
  ],
};

let ns: string;
let redis: TestRedis;
let proc: OperatorProcess;
let prom: TestPrometheus;
let webhook: string;
let started: Date;

function runbook(
  name: string,
  alertname: string,
  steps: unknown[],
  safety: Record<string, unknown> = {},
): unknown {
  return {
    apiVersion: 'kube-remediator.io/v1alpha1',
    kind: 'Runbook',
    metadata: { name, namespace: ns },
    spec: {
      triggers: [{ alertname }],
      params: [{ name: 'deployment', from: 'labels.deployment' }],
      target: { apiVersion: 'apps/v1', kind: 'Deployment', name: '{{ deployment }}' },
      safety,
      steps,
    },
  };
}

const startedAt = new Map<string, string>();

/** An Alertmanager notification of one alert that started a few seconds ago. */
function alert(
  status: 'firing' | 'resolved',
  alertname: string,
  deployment: string,
  fingerprint: string,
): unknown {
  // The resolved notification carries the startsAt of the firing one: that is how it finds it.
  const startsAt = startedAt.get(fingerprint) ?? new Date(Date.now() - 3000).toISOString();
  startedAt.set(fingerprint, startsAt);
  return {
    version: '4',
    groupKey: `{}:{alertname="${alertname}"}`,
    truncatedAlerts: 0,
    status,
    receiver: 'kube-remediator',
    groupLabels: { alertname },
    commonLabels: { alertname },
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    alerts: [
      {
        status,
        labels: { alertname, deployment, namespace: ns },
        annotations: {},
        startsAt,
        endsAt: status === 'resolved' ? new Date().toISOString() : '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus/graph',
        fingerprint,
      },
    ],
  };
}

async function post(body: unknown, token: string | null = TOKEN): Promise<number> {
  const res = await fetch(webhook, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  await res.text();
  return res.status;
}

async function apply(obj: unknown): Promise<void> {
  const res = await kubectl(['apply', '-f', '-'], { input: JSON.stringify(obj) });
  if (res.exitCode !== 0) throw new Error(res.stderr);
}

/** The Remediation of a runbook and deployment, once it reached `phase`. */
async function reached(rb: string, deployment: string, phase: string): Promise<void> {
  await waitFor(
    async () =>
      (await remediations(testClients()).list(ns)).items.find(
        (r) =>
          r.spec.runbookRef?.name === rb &&
          r.spec.params?.deployment === deployment &&
          r.status?.phase === phase,
      ),
    { timeoutMs: 60_000, what: `a Remediation of ${rb} on ${deployment} in phase ${phase}` },
  );
}

/** A query as Grafana sends it for this dashboard, cluster `CLUSTER` selected, 1 s scrapes. */
function asGrafana(expr: string, rangeSeconds: number): string {
  return expr
    .replaceAll('$cluster', CLUSTER)
    .replaceAll('$__rate_interval', '10s')
    .replaceAll('$__range', `${rangeSeconds}s`);
}

/** What is wrong with a panel's answers now, or nothing. */
async function problemsOf(panel: Panel): Promise<string[]> {
  const end = new Date();
  const rangeSeconds = Math.ceil((end.getTime() - started.getTime()) / 1000) + 5;
  const problems: string[] = [];
  for (const t of panel.targets ?? []) {
    const expr = asGrafana(t.expr, rangeSeconds);
    const got = t.instant
      ? (await prom.query(expr)).map((s) => ({ metric: s.metric, values: [s.value] }))
      : await prom.queryRange(expr, { start: started, end, stepSeconds: 1 });
    for (const want of EXPECTED[panel.title] ?? []) {
      const match = got.find(
        (s) =>
          Object.entries(want.labels).every(([k, v]) => s.metric[k] === v) &&
          (want.check ?? positive)(s.values),
      );
      if (!match)
        problems.push(
          `${panel.title} [${t.refId}] ${expr}: no series ${JSON.stringify(want.labels)} with ${want.what}; got ${JSON.stringify(got.map((s) => ({ ...s.metric, max: Math.max(...s.values) })))}`,
        );
    }
  }
  return problems;
}

beforeAll(async () => {
  ns = await createNamespace('dash');
  redis = await startRedis();
  const [wp, pp] = [await freePort(), await freePort()];
  webhook = `http://127.0.0.1:${wp}/api/v1/alerts`;
  proc = startOperator({
    env: {
      KR_WATCH_NAMESPACE: ns,
      KR_LEADER_ELECTION_NAMESPACE: ns,
      KR_LEASE_NAME: 'dash-lease',
      KR_WEBHOOK_HOST: '127.0.0.1',
      KR_WEBHOOK_PORT: String(wp),
      KR_PROBES_HOST: '127.0.0.1',
      KR_PROBES_PORT: String(pp),
      KR_WEBHOOK_BEARER_TOKEN: TOKEN,
      KR_STORE: 'redis',
      KR_REDIS_URL: redis.url,
      KR_LEASE_DURATION: '6s',
      KR_RENEW_DEADLINE: '4500ms',
      KR_RETRY_PERIOD: '500ms',
    },
  });
  await waitFor(async () => (await fetch(`http://127.0.0.1:${pp}/readyz`)).ok, { what: 'operator ready' });
  // The cluster label comes from the scrape, as the chart's ServiceMonitor adds it.
  prom = await startPrometheus({
    targets: [{ job: 'kube-remediator', address: `127.0.0.1:${pp}`, labels: { cluster: CLUSTER } }],
  });
}, 120_000);

afterAll(async () => {
  proc?.kill('SIGKILL');
  await proc?.exited;
  await prom?.destroy();
  await redis?.destroy();
  if (ns) await deleteNamespace(ns);
});

describe('the Grafana dashboard, on a real Prometheus scraping the operator', () => {
  it('every panel’s query returns the series it is meant to show', async () => {
    const degrade = [
      {
        name: 'degrade',
        action: 'setEnv',
        setEnv: { env: [{ name: 'MODE', value: 'degraded' }] },
        revertOnResolve: true,
      },
    ];
    for (const d of ['dash-web', 'dash-manual'])
      await createDeployment(ns, d, { replicas: 1, env: [{ name: 'MODE', value: 'normal' }] });
    await apply(runbook('dash-degrade', 'DashDegraded', degrade, { cooldown: '1h' }));
    await apply(
      runbook('dash-approve', 'DashApprove', [{ name: 'up', action: 'scale', scale: { replicas: 2 } }], {
        requireApproval: true,
      }),
    );
    await apply(runbook('dash-fail', 'DashFail', [{ name: 'up', action: 'scale', scale: { replicas: 2 } }]));
    // A runbook's series start at 0 when the Runbook is seen; once Prometheus has that 0, its
    // first end is an increase (as it is for any Runbook older than a scrape interval).
    await waitFor(
      async () =>
        (await prom.query('count(kube_remediator_remediations_started_total{runbook=~"dash-.*"})'))[0]
          ?.value === 3,
      { what: 'the runbooks’ series scraped at 0' },
    );
    started = new Date(Date.now() - 5000);

    // Succeeds, a second alert on the same target is held by the cooldown, then it resolves: reverted.
    expect(await post(alert('firing', 'DashDegraded', 'dash-web', 'd0000001'))).toBe(200);
    await reached('dash-degrade', 'dash-web', 'Succeeded');
    expect(await post(alert('firing', 'DashDegraded', 'dash-web', 'd0000002'))).toBe(200);
    expect(await post(alert('resolved', 'DashDegraded', 'dash-web', 'd0000001'))).toBe(200);
    await reached('dash-degrade', 'dash-web', 'Reverted');

    // Succeeds, a person changes the value meanwhile, so the revert leaves it alone: revert_failed.
    expect(await post(alert('firing', 'DashDegraded', 'dash-manual', 'd0000003'))).toBe(200);
    await reached('dash-degrade', 'dash-manual', 'Succeeded');
    const edit = await kubectl(['set', 'env', 'deployment/dash-manual', 'MODE=manual', '-n', ns]);
    expect(edit.stderr).toBe('');
    expect(await post(alert('resolved', 'DashDegraded', 'dash-manual', 'd0000003'))).toBe(200);

    // Waits for a person; fails (no such Deployment); a call without the token is refused.
    expect(await post(alert('firing', 'DashApprove', 'dash-web', 'a0000001'))).toBe(200);
    await reached('dash-approve', 'dash-web', 'AwaitingApproval');
    expect(await post(alert('firing', 'DashFail', 'no-such-deployment', 'f0000001'))).toBe(200);
    await reached('dash-fail', 'no-such-deployment', 'Failed');
    expect(await post(alert('firing', 'DashFail', 'dash-web', 'f0000002'), null)).toBe(401);

    // Redis goes away: the next alert with a cooldown is admitted from memory.
    await waitFor(
      async () => (await prom.query('kube_remediator_store_fallback{store="redis"}'))[0]?.value === 0,
      {
        what: 'the store scraped while up',
      },
    );
    await redis.stop();
    expect(await post(alert('firing', 'DashDegraded', 'dash-later', 'd0000004'))).toBe(200);

    const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as { panels: Panel[] };
    const panels = dashboard.panels.filter((p) => p.type !== 'row');
    expect(panels.map((p) => p.title).filter((t) => !(t in EXPECTED))).toEqual([]);
    let problems: string[] = [];
    await waitFor(
      async () => {
        problems = (await Promise.all(panels.map(problemsOf))).flat();
        return problems.length === 0;
      },
      { timeoutMs: 90_000, intervalMs: 1000, what: 'every panel to show its series' },
    ).catch(() => undefined);
    expect(problems).toEqual([]);

    // The cluster variable offers this cluster, and another cluster's selection shows nothing.
    const variable = /label_values\((\w+), cluster\)/.exec(JSON.stringify(dashboard))!;
    expect(await prom.labelValues('cluster', variable[1]!)).toEqual([CLUSTER]);
    const started_ = panels.find((p) => p.title === 'Remediations started, by runbook')!.targets![0]!.expr;
    expect(
      await prom.query(started_.replaceAll('$cluster', 'elsewhere').replaceAll('$__rate_interval', '1h')),
    ).toEqual([]);
  });
});
