/**
 * Two clusters, one audit database: two test control planes, an operator process on each
 * (`kube-remediator run`, started at the same instant against one fresh PostgreSQL database),
 * each remediating in its own cluster. Then `kube-remediator audit` (the bundle, as users run
 * it) reads the rows of one cluster, of both, and sums them up per cluster and runbook. One
 * operator is named by KR_CLUSTER_NAME, the other by its kubeconfig's current context.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execa } from 'execa';
import pg from 'pg';
import { OPERATOR_NODE_FLAGS } from '../../../src/cli/node-flags.js';
import { freePort, startCluster, type TestCluster } from '../../../tools/cluster/cluster.js';
import { installCrds } from '../../../tools/cluster/crds.js';
import { createNamespace, deleteNamespace, kubectl, waitFor } from '../../support/kube.js';
import { isolatedOperatorEntry, startOperator, type OperatorProcess } from '../../support/operator.js';

/** A database of this file's own in the shared PostgreSQL. */
const DB = `kr_e2e_fleet_${process.pid}`;
const DB_URL = `postgres://postgres@127.0.0.1:5432/${DB}`;
/** The context name of every test cluster's kubeconfig (tools/cluster/cluster.ts). */
const CONTEXT = 'kr-test';

let second: TestCluster;
let ns: string;
const procs: OperatorProcess[] = [];

async function admin(text: string): Promise<void> {
  const c = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

/** A Deployment, a Runbook that sets an env var on it, and a Remediation of it made by hand. */
function workload(namespace: string, withNamespace: boolean): unknown {
  const items: unknown[] = [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'main', image: 'registry.example/app:1.0' }] },
        },
      },
    },
    {
      apiVersion: 'kube-remediator.io/v1alpha1',
      kind: 'Runbook',
      metadata: { name: 'degrade-web', namespace },
      spec: {
        triggers: [{ alertname: 'WebDegraded' }],
        target: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
        steps: [
          { name: 'degrade', action: 'setEnv', setEnv: { env: [{ name: 'MODE', value: 'degraded' }] } },
        ],
      },
    },
    {
      apiVersion: 'kube-remediator.io/v1alpha1',
      kind: 'Remediation',
      metadata: { name: 'degrade-web-1', namespace },
      spec: { runbookRef: { name: 'degrade-web' } },
    },
  ];
  if (withNamespace) items.unshift({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  return { apiVersion: 'v1', kind: 'List', items };
}

async function operator(kubeconfig: string, env: Record<string, string> = {}): Promise<OperatorProcess> {
  const proc = startOperator({
    env: {
      KUBECONFIG: kubeconfig,
      KR_WATCH_NAMESPACE: ns,
      KR_LEADER_ELECTION: 'false',
      KR_WEBHOOK_ENABLED: 'false',
      KR_PROBES_HOST: '127.0.0.1',
      KR_PROBES_PORT: String(await freePort()),
      KR_AUDIT_POSTGRES_URL: DB_URL,
      KR_AUDIT_FLUSH_INTERVAL: '200ms',
      ...env,
    },
  });
  procs.push(proc);
  return proc;
}

/** `kube-remediator audit ...` from the bundle, with the shared database. */
async function audit(args: string[]): Promise<string> {
  const res = await execa(
    process.execPath,
    [...OPERATOR_NODE_FLAGS, isolatedOperatorEntry(), 'audit', '--since', '1h', ...args],
    { env: { KR_AUDIT_POSTGRES_URL: DB_URL }, reject: false },
  );
  if (res.exitCode !== 0) throw new Error(`audit exited ${res.exitCode}: ${res.stderr}`);
  return res.stdout;
}

const column = (out: string, i: number): string[] =>
  out
    .trimEnd()
    .split('\n')
    .slice(1)
    .map((l) => l.split(/\s{3,}/)[i]!);

beforeAll(async () => {
  await admin(`DROP DATABASE IF EXISTS ${DB}`);
  await admin(`CREATE DATABASE ${DB}`);
  // The second control plane needs no controller-manager: setEnv only patches the Deployment.
  second = await startCluster({ controllerManager: false });
  await installCrds(second.kubeconfigPath);
  ns = await createNamespace('fleet');
}, 180_000);

afterAll(async () => {
  for (const p of procs.splice(0)) {
    p.kill('SIGKILL');
    await p.exited;
  }
  await second?.stop();
  if (ns) await deleteNamespace(ns);
  await admin(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
});

describe('two clusters writing to one audit database', () => {
  it('keeps each cluster’s rows apart, and reads them apart, together and summed up', async () => {
    // Both start at once against an empty database: the migration is raced for real.
    const [a, b] = await Promise.all([
      operator(process.env.KUBECONFIG!),
      operator(second.kubeconfigPath, { KR_CLUSTER_NAME: 'east' }),
    ]);
    await Promise.all([a.waitForLog('operator started', 60_000), b.waitForLog('operator started', 60_000)]);
    expect(JSON.parse(await a.waitForLog('"starting"'))).toMatchObject({ cluster: CONTEXT });
    expect(JSON.parse(await b.waitForLog('"starting"'))).toMatchObject({ cluster: 'east' });

    for (const [kubeconfig, withNamespace] of [
      [process.env.KUBECONFIG!, false],
      [second.kubeconfigPath, true],
    ] as const) {
      const res = await kubectl(['--kubeconfig', kubeconfig, 'apply', '-f', '-'], {
        input: JSON.stringify(workload(ns, withNamespace)),
      });
      expect(res.stderr).toBe('');
    }

    // Each operator's Remediation succeeded and its rows are written.
    const both = await waitFor(
      async () => {
        const out = await audit(['--remediation', 'degrade-web-1']);
        const finished = out.split('\n').filter((l) => /\sfinished\s/.test(l));
        return finished.length === 2 ? out : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 500, what: 'a finished row from each cluster' },
    );
    expect(new Set(column(both, 0))).toEqual(new Set([CONTEXT, 'east']));

    const east = await audit(['--cluster', 'east']);
    expect(new Set(column(east, 0))).toEqual(new Set(['east']));
    expect(east).toMatch(/east\s+\S+\s+finished\s+\S+\/degrade-web-1\s+degrade-web/);
    const mine = await audit(['--cluster', CONTEXT, '-o', 'json']);
    const rows = JSON.parse(mine) as { cluster: string; event: string; result?: string }[];
    expect(new Set(rows.map((r) => r.cluster))).toEqual(new Set([CONTEXT]));
    expect(rows.find((r) => r.event === 'finished')).toMatchObject({ result: 'succeeded' });

    const summary = await audit(['--summary']);
    expect(
      summary
        .trimEnd()
        .split('\n')
        .slice(1)
        .map((l) => l.split(/\s{3,}/).slice(0, 4)),
    ).toEqual([
      ['east', 'degrade-web', '1', '100%'],
      [CONTEXT, 'degrade-web', '1', '100%'],
    ]);
    expect(await audit(['--summary', '--cluster', 'nowhere'])).toBe('No remediation ended in this range.');
  });
});
