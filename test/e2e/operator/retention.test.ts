/**
 * Issue #14, item 2 (ADR 0022): retention on the real control plane with the operator as users
 * run it, audit on in PostgreSQL. It deletes exactly what the limits say, keeps what waits for
 * a revert on resolve, `kube-remediator audit` still shows the deleted ones, and a cooldown
 * outlives the deletion of the Remediation that started it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { execa } from 'execa';
import pg from 'pg';
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

const TOKEN = 'e2e-webhook-token';
const AUDIT_DB = `kr_e2e_retention_${process.pid}`;
const AUDIT_URL = `postgres://postgres@127.0.0.1:5432/${AUDIT_DB}`;
let ns: string;
let kubelet: FakeKubelet;
const procs: OperatorProcess[] = [];

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function operator(): Promise<{ proc: OperatorProcess; webhook: string; probes: string }> {
  const [wp, pp] = [await freePort(), await freePort()];
  const proc = startOperator({
    env: {
      KR_WATCH_NAMESPACE: ns,
      KR_LEADER_ELECTION: 'false',
      KR_WEBHOOK_HOST: '127.0.0.1',
      KR_WEBHOOK_PORT: String(wp),
      KR_PROBES_HOST: '127.0.0.1',
      KR_PROBES_PORT: String(pp),
      KR_WEBHOOK_BEARER_TOKEN: TOKEN,
      KR_AUDIT_POSTGRES_URL: AUDIT_URL,
      // The diagnosis of a deadline that runs out reads the Runbook controller's passes.
      KR_LOG_LEVEL: 'debug',
    },
  });
  procs.push(proc);
  const probes = `http://127.0.0.1:${pp}`;
  await waitFor(async () => (await fetch(`${probes}/readyz`).catch(() => undefined))?.ok, {
    what: 'operator ready',
    timeoutMs: 30_000,
  });
  return { proc, webhook: `http://127.0.0.1:${wp}/api/v1/alerts`, probes };
}

async function apply(obj: unknown): Promise<void> {
  const res = await kubectl(['apply', '-f', '-'], { input: JSON.stringify(obj) });
  if (res.exitCode !== 0) throw new Error(res.stderr);
}

function runbook(name: string, steps: unknown[], spec: Record<string, unknown>): unknown {
  return {
    apiVersion: 'kube-remediator.io/v1alpha1',
    kind: 'Runbook',
    metadata: { name, namespace: ns },
    spec: {
      triggers: [{ alertname: `Alert-${name}` }],
      params: [{ name: 'deployment', from: 'labels.deployment' }],
      target: { apiVersion: 'apps/v1', kind: 'Deployment', name: '{{ deployment }}' },
      steps,
      ...spec,
    },
  };
}

function handMade(name: string, runbookName: string, deployment: string): unknown {
  return {
    apiVersion: 'kube-remediator.io/v1alpha1',
    kind: 'Remediation',
    metadata: { name, namespace: ns },
    spec: { runbookRef: { name: runbookName }, params: { deployment } },
  };
}

const RESTART = [{ name: 'restart', action: 'rolloutRestart', rolloutRestart: {} }];
const rems = () => remediations(testClients());

async function waitPhase(name: string, phase: string): Promise<Remediation> {
  return waitFor(
    async () => {
      const r = await rems()
        .get(ns, name)
        .catch(() => undefined);
      return r?.status?.phase === phase ? r : undefined;
    },
    { timeoutMs: 60_000, what: `remediation ${name} in phase ${phase}` },
  );
}

async function remainingOf(rb: string): Promise<string[]> {
  return (await rems().list(ns)).items
    .filter((r) => r.spec.runbookRef?.name === rb)
    .map((r) => r.metadata.name!)
    .sort();
}

/**
 * A deadline that runs out says why: what is left of the Remediations, the operator's lines of
 * its Runbook controller and audit log, and the PostgreSQL sessions (audit keeps unwritten rows).
 */
async function diagnosed<T>(proc: OperatorProcess, wait: Promise<T>): Promise<T> {
  try {
    return await wait;
  } catch (err) {
    const left = (await rems().list(ns)).items.map(
      (r) => `${r.metadata.name} ${r.status?.phase ?? '-'} completedAt=${r.status?.completedAt ?? '-'}`,
    );
    const lines = proc
      .logs()
      .filter((l) => /"controller":"runbook"|audit|retention|deleted|postgres/.test(l))
      .slice(-40);
    const sessions = await admin((c) =>
      c.query<{ datname: string | null; n: string }>(
        'SELECT datname, count(*) AS n FROM pg_stat_activity GROUP BY datname ORDER BY 2 DESC',
      ),
    ).then(
      (r) => r.rows.map((x) => `${x.datname ?? '-'}=${x.n}`).join(' '),
      (e: Error) => `unreadable: ${e.message}`,
    );
    throw new Error(
      [
        String((err as Error).message),
        'remediations:',
        ...left,
        `postgres sessions: ${sessions}`,
        'operator log:',
        ...lines,
      ].join('\n'),
    );
  }
}

async function metric(probes: string, re: RegExp): Promise<number> {
  const text = await (await fetch(`${probes}/metrics`)).text();
  const m = re.exec(text);
  return m ? Number(m[1]) : 0;
}

beforeAll(async () => {
  await admin((c) =>
    c.query(`DROP DATABASE IF EXISTS ${AUDIT_DB}`).then(() => c.query(`CREATE DATABASE ${AUDIT_DB}`)),
  );
  ns = await createNamespace('retention');
  kubelet = startFakeKubelet(testKubeConfig(), { namespace: ns });
  for (const d of ['web', 'api', 'cool'])
    await createDeployment(ns, d, { replicas: 1, env: [{ name: 'MODE', value: 'normal' }] });
  await Promise.all(['web', 'api', 'cool'].map((d) => waitDeploymentReady(ns, d)));
});

afterEach(async () => {
  for (const p of procs.splice(0)) {
    p.kill('SIGKILL');
    await p.exited;
  }
});

afterAll(async () => {
  kubelet.stop();
  await deleteNamespace(ns);
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${AUDIT_DB} WITH (FORCE)`));
});

describe('retention', () => {
  it('deletes beyond the history limit, keeps what waits for a revert, and the audit log still shows them', async () => {
    // maxConsecutiveFailures 1: loop protection needs only the newest attempt on the target.
    const safety = { maxConsecutiveFailures: 1 };
    await apply(runbook('restarts', RESTART, { successfulHistoryLimit: 1, safety }));
    const degrade = [
      {
        name: 'degrade',
        action: 'setEnv',
        revertOnResolve: true,
        setEnv: { env: [{ name: 'MODE', value: 'degraded' }] },
      },
    ];
    await apply(runbook('degrades', degrade, { successfulHistoryLimit: 0, safety }));
    const { proc, probes } = await operator();

    for (const n of ['r-1', 'r-2', 'r-3']) {
      await apply(handMade(n, 'restarts', 'web'));
      await waitPhase(n, 'Succeeded');
    }
    await diagnosed(
      proc,
      waitFor(async () => ((await remainingOf('restarts')).join() === 'r-3' ? true : undefined), {
        what: 'the two older Remediations of restarts deleted',
        // Deletes wait for the audit rows to be written and for the Runbook's next pass, both
        // slower on a loaded CI machine: a poll deadline, not a speed assertion.
        timeoutMs: 90_000,
      }),
    );
    expect(
      await metric(
        probes,
        /kube_remediator_remediations_deleted_total\{runbook="restarts",reason="successfulHistoryLimit"\} (\d+)/,
      ),
    ).toBe(2);
    expect(proc.logs().filter((l) => l.includes('"message":"remediation deleted"'))).toHaveLength(2);

    // Its change waits for the alert to resolve: kept though the limit is 0, until reverted.
    await apply(handMade('d-1', 'degrades', 'api'));
    await waitPhase('d-1', 'Succeeded');
    await apply(handMade('d-2', 'degrades', 'api'));
    await waitPhase('d-2', 'Succeeded');
    expect(await remainingOf('degrades')).toEqual(['d-1', 'd-2']);
    await kubectl(['annotate', '-n', ns, 'rem', 'd-2', 'kube-remediator.io/revert=true']);
    await waitPhase('d-2', 'Reverted');
    await kubectl(['annotate', '-n', ns, 'rem', 'd-1', 'kube-remediator.io/revert=true']);
    // Both reverted; d-1 finished last (its revert), so it is the newest attempt on the target and
    // stays as loop-protection evidence, and d-2 goes.
    await waitFor(async () => ((await remainingOf('degrades')).join() === 'd-1' ? true : undefined), {
      what: 'd-2 deleted once both are reverted',
      timeoutMs: 60_000,
    });

    // The long history: the deleted ones, through the CLI a person would use.
    const rows = await waitFor(
      async () => {
        const res = await execa(
          process.execPath,
          [
            isolatedOperatorEntry(),
            'audit',
            '--since',
            '1h',
            '--runbook',
            'restarts',
            '--output',
            'json',
            '--postgres-url',
            AUDIT_URL,
          ],
          { reject: false },
        );
        const list =
          res.exitCode === 0 ? (JSON.parse(res.stdout) as { remediation: string; event: string }[]) : [];
        const finished = new Set(list.filter((r) => r.event === 'finished').map((r) => r.remediation));
        return finished.size === 3 ? finished : undefined;
      },
      { what: 'audit rows of all three', timeoutMs: 20_000 },
    );
    expect([...rows].sort()).toEqual(['r-1', 'r-2', 'r-3']);
  });

  it('a cooldown outlives the deletion of the Remediation that started it', async () => {
    await apply(
      runbook('cooling', RESTART, {
        ttlSecondsAfterFinished: 0,
        safety: { cooldown: '1h', maxConsecutiveFailures: 1 },
      }),
    );
    const { proc, webhook } = await operator();
    await waitFor(
      async () =>
        (await kubectl(['get', 'rb', 'cooling', '-n', ns, '-o', 'jsonpath={.status.conditions[0].status}']))
          .stdout === 'True',
      { what: 'runbook Ready' },
    );
    const fire = async (
      startsAt: string,
    ): Promise<{ outcome: string; remediation?: string; reason?: string }> => {
      const res = await fetch(webhook, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({
          version: '4',
          groupKey: '{}:{alertname="Alert-cooling"}',
          truncatedAlerts: 0,
          status: 'firing',
          receiver: 'kube-remediator',
          groupLabels: {},
          commonLabels: {},
          commonAnnotations: {},
          externalURL: 'http://alertmanager:9093',
          alerts: [
            {
              status: 'firing',
              labels: { alertname: 'Alert-cooling', deployment: 'cool' },
              annotations: {},
              startsAt,
              endsAt: '0001-01-01T00:00:00Z',
              generatorURL: '',
              fingerprint: 'c001c001c001c001',
            },
          ],
        }),
      });
      expect(res.status).toBe(200);
      return ((await res.json()) as { alerts: { results: { outcome: string }[] }[] }).alerts[0]!.results[0]!;
    };
    const first = await fire('2026-11-24T01:00:00Z');
    expect(first.outcome).toBe('created');
    const name = first.remediation!.split('/')[1]!;
    await waitPhase(name, 'Succeeded');
    // A newer attempt on the target takes over as loop-protection evidence: the first is let go.
    await apply(handMade('cool-2', 'cooling', 'cool'));
    await waitPhase('cool-2', 'Succeeded');
    await diagnosed(
      proc,
      waitFor(async () => ((await remainingOf('cooling')).includes(name) ? undefined : true), {
        what: `${name} deleted by ttlSecondsAfterFinished: 0`,
        timeoutMs: 90_000,
      }),
    );

    const again = await fire('2026-11-24T02:00:00Z');
    expect(again.outcome).toBe('suppressed_cooldown');
    expect(again.reason).toContain(name);
  });
});
