/**
 * Issue #14, item 1 (ADR 0021): a resolved notification reverts the change even when its
 * `startsAt` is not the firing one's. The payloads are built the way Alertmanager builds them
 * when the client posts an alert without `startsAt` (amtool, the v2 API, relays): api/v2
 * `postAlertsHandler` sets `startsAt = now` on the firing post (with `endsAt = now +
 * resolve_timeout`), and `startsAt = endsAt` on the post that resolves it, which is not merged
 * with the first once that one has timed out. Two real operator processes, the real control
 * plane; the resolved notification goes to the standby, which has never seen the firing one.
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
import { startOperator, type OperatorProcess } from '../../support/operator.js';

const TOKEN = 'e2e-webhook-token';
let ns: string;
let kubelet: FakeKubelet;
const procs: OperatorProcess[] = [];

async function operator(
  identity: string,
): Promise<{ proc: OperatorProcess; webhook: string; probes: string }> {
  const [wp, pp] = [await freePort(), await freePort()];
  const proc = startOperator({
    env: {
      KR_WATCH_NAMESPACE: ns,
      KR_LEADER_ELECTION_NAMESPACE: ns,
      KR_LEADER_IDENTITY: identity,
      KR_LEASE_NAME: 'resolved-lease',
      KR_WEBHOOK_HOST: '127.0.0.1',
      KR_WEBHOOK_PORT: String(wp),
      KR_PROBES_HOST: '127.0.0.1',
      KR_PROBES_PORT: String(pp),
      KR_WEBHOOK_BEARER_TOKEN: TOKEN,
      KR_LEASE_DURATION: '6s',
      KR_RENEW_DEADLINE: '4500ms',
      KR_RETRY_PERIOD: '500ms',
    },
  });
  procs.push(proc);
  const probes = `http://127.0.0.1:${pp}`;
  await waitFor(async () => (await fetch(`${probes}/readyz`).catch(() => undefined))?.ok, {
    what: `${identity} ready`,
    timeoutMs: 30_000,
  });
  return { proc, webhook: `http://127.0.0.1:${wp}/api/v1/alerts`, probes };
}

const FINGERPRINT = '7f3a9c0e51d2b864';
const RESOLVE_TIMEOUT_MS = 5 * 60_000;

function amAlert(status: 'firing' | 'resolved', startsAt: Date, endsAt: Date): Record<string, unknown> {
  return {
    status,
    labels: { alertname: 'WebDegraded', deployment: 'web', namespace: ns },
    annotations: { summary: 'web is degraded' },
    startsAt: startsAt.toISOString(),
    endsAt: endsAt.toISOString(),
    generatorURL: '',
    fingerprint: FINGERPRINT,
  };
}

function payload(alert: Record<string, unknown>): unknown {
  return {
    version: '4',
    groupKey: '{}:{alertname="WebDegraded"}',
    truncatedAlerts: 0,
    status: alert.status,
    receiver: 'kube-remediator',
    groupLabels: { alertname: 'WebDegraded' },
    commonLabels: alert.labels,
    commonAnnotations: alert.annotations,
    externalURL: 'http://alertmanager:9093',
    alerts: [alert],
  };
}

interface Answer {
  alerts: { results: { outcome: string; remediation?: string; remediations?: string[] }[] }[];
}

async function post(url: string, body: unknown): Promise<Answer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Answer;
}

async function apply(obj: unknown): Promise<void> {
  const res = await kubectl(['apply', '-f', '-'], { input: JSON.stringify(obj) });
  if (res.exitCode !== 0) throw new Error(res.stderr);
}

const rems = () => remediations(testClients());

async function waitPhase(name: string, phase: string): Promise<Remediation> {
  return waitFor(
    async () => {
      const r = await rems().get(ns, name);
      return r.status?.phase === phase ? r : undefined;
    },
    { timeoutMs: 60_000, what: `remediation ${name} in phase ${phase}` },
  );
}

async function webEnv(): Promise<unknown> {
  const d = await testClients().apps.readNamespacedDeployment({ name: 'web', namespace: ns });
  return d.spec!.template.spec!.containers[0]!.env;
}

beforeAll(async () => {
  ns = await createNamespace('resolved-fp');
  kubelet = startFakeKubelet(testKubeConfig(), { namespace: ns });
  await createDeployment(ns, 'web', { replicas: 1, env: [{ name: 'MODE', value: 'normal' }] });
  await waitDeploymentReady(ns, 'web');
  await apply({
    apiVersion: 'kube-remediator.io/v1alpha1',
    kind: 'Runbook',
    metadata: { name: 'web-degraded', namespace: ns },
    spec: {
      triggers: [{ alertname: 'WebDegraded' }],
      params: [{ name: 'deployment', from: 'labels.deployment' }],
      target: { apiVersion: 'apps/v1', kind: 'Deployment', name: '{{ deployment }}' },
      steps: [
        {
          name: 'degrade',
          action: 'setEnv',
          revertOnResolve: true,
          setEnv: { env: [{ name: 'MODE', value: 'degraded' }] },
        },
      ],
    },
  });
});

afterEach(async () => {
  for (const p of procs.splice(0)) {
    p.kill('SIGKILL');
    await p.exited;
  }
  await testClients().coordination.deleteCollectionNamespacedLease({ namespace: ns });
});

afterAll(async () => {
  kubelet.stop();
  await deleteNamespace(ns);
});

describe('a resolved notification whose startsAt differs from the firing one', () => {
  it('reverts the change, when only the standby replica receives it', async () => {
    const a = await operator('replica-a');
    await waitFor(
      async () =>
        (await testClients().coordination.readNamespacedLease({ name: 'resolved-lease', namespace: ns })).spec
          ?.holderIdentity === 'replica-a',
      { what: 'replica-a leads' },
    );
    const b = await operator('replica-b');

    const firedAt = new Date(Date.now() - 120_000);
    const fired = await post(
      a.webhook,
      payload(amAlert('firing', firedAt, new Date(firedAt.getTime() + RESOLVE_TIMEOUT_MS))),
    );
    expect(fired.alerts[0]!.results[0]!.outcome).toBe('created');
    const name = fired.alerts[0]!.results[0]!.remediation!.split('/')[1]!;
    await waitPhase(name, 'Succeeded');
    expect(await webEnv()).toEqual([{ name: 'MODE', value: 'degraded' }]);

    const resolvedAt = new Date();
    const resolved = await post(b.webhook, payload(amAlert('resolved', resolvedAt, resolvedAt)));
    expect(resolved.alerts[0]!.results[0]).toMatchObject({
      outcome: 'resolved_marked',
      remediation: `${ns}/${name}`,
      remediations: [`${ns}/${name}`],
    });
    await waitPhase(name, 'Reverted');
    expect(await webEnv()).toEqual([{ name: 'MODE', value: 'normal' }]);
    // The retry Alertmanager sends when it did not get the answer: the same list, no new write.
    const again = await post(b.webhook, payload(amAlert('resolved', resolvedAt, resolvedAt)));
    expect(again.alerts[0]!.results[0]).toMatchObject({
      outcome: 'resolved_marked',
      remediations: [`${ns}/${name}`],
    });
  });

  it('reverts every live occurrence of the fingerprint, newest first', async () => {
    const a = await operator('replica-a');
    const t0 = Date.now() - 600_000;
    // Two occurrences of one fingerprint both still in place (the first one's resolved was lost).
    const names: string[] = [];
    for (const startsAt of [new Date(t0), new Date(t0 + 60_000)]) {
      const r = await post(
        a.webhook,
        payload(amAlert('firing', startsAt, new Date(startsAt.getTime() + 1000))),
      );
      expect(r.alerts[0]!.results[0]!.outcome).toBe('created');
      names.push(r.alerts[0]!.results[0]!.remediation!.split('/')[1]!);
      await waitPhase(names.at(-1)!, 'Succeeded');
    }
    const resolvedAt = new Date(t0 + 120_000);
    const resolved = await post(a.webhook, payload(amAlert('resolved', resolvedAt, resolvedAt)));
    expect(resolved.alerts[0]!.results[0]).toMatchObject({
      outcome: 'resolved_marked',
      remediations: [`${ns}/${names[1]}`, `${ns}/${names[0]}`],
    });
    await waitPhase(names[0]!, 'Reverted');
    await waitPhase(names[1]!, 'Reverted');
    expect(await webEnv()).toEqual([{ name: 'MODE', value: 'normal' }]);
  });
});
