/**
 * A real Alertmanager (Debian's prometheus-alertmanager 0.25) as the client: it gets an alert
 * on its own API, notifies our listening webhook with a bearer token, and later sends the
 * resolved notification. The payloads it sends are kept in test/fixtures/alertmanager/ for
 * the other tests (rewritten when KR_UPDATE_FIXTURES=1; otherwise compared by shape).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { remediations } from '../../../src/kube/resources.js';
import type { WebhookPayload } from '../../../src/intake/payload.js';
import { ensureAlertmanager, startAlertmanager, type RunningAlertmanager } from '../../support/services.js';
import { createNamespace, deleteNamespace, testClients, waitFor } from '../../support/kube.js';
import { createRunbook, listen, startIntake, TOKEN, type TestIntake } from './helpers.js';

const FIXTURES = join(process.cwd(), 'test/fixtures/alertmanager');

async function postToAlertmanager(am: RunningAlertmanager, alerts: unknown[]): Promise<void> {
  const res = await fetch(`${am.url}/api/v2/alerts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(alerts),
  });
  if (!res.ok) throw new Error(`Alertmanager refused the alert: ${res.status} ${await res.text()}`);
}

/** The field names of a payload and of its first alert: what must stay stable across fixtures. */
function shape(p: WebhookPayload): { top: string[]; alert: string[] } {
  return { top: Object.keys(p).sort(), alert: Object.keys(p.alerts[0] ?? {}).sort() };
}

describe('a real Alertmanager as the client', () => {
  let ns: string;
  let server: TestIntake;
  let am: RunningAlertmanager | undefined;
  const received: WebhookPayload[] = [];

  beforeAll(async () => {
    await ensureAlertmanager();
    ns = await createNamespace('intake-am');
    await createRunbook(ns, 'am-restart', { triggers: [{ alertname: 'AmWebDown' }] });
    server = startIntake({ namespace: ns });
    // Keep every payload Alertmanager sends, as it sent it (after auth and validation).
    server.app.addHook('preHandler', (req, _reply, done) => {
      received.push(req.body as WebhookPayload);
      done();
    });
    am = await startAlertmanager({ webhookUrl: await listen(server.app), token: TOKEN });
  }, 300_000);

  afterAll(async () => {
    await am?.stop();
    await server?.app.close();
    if (ns) await deleteNamespace(ns);
  });

  it('creates the Remediation from its notification, then marks it for revert when it resolves', async () => {
    const startsAt = new Date(Date.now() - 60_000).toISOString();
    const alert = {
      labels: { alertname: 'AmWebDown', deployment: 'web', namespace: ns, severity: 'page' },
      annotations: { summary: 'web is down', runbook_url: 'https://example.com/runbooks/web' },
      generatorURL: 'http://prometheus.example:9090/graph?g0.expr=up%3D%3D0',
      startsAt,
    };
    await postToAlertmanager(am!, [alert]);

    const rem = await waitFor(
      async () =>
        (await remediations(testClients()).list(ns)).items.find(
          (r) => r.spec.runbookRef?.name === 'am-restart',
        ),
      {
        timeoutMs: 60_000,
        what: `a Remediation from Alertmanager's notification\n${am!.output.slice(-10).join('\n')}`,
      },
    );
    expect(rem.spec.target).toMatchObject({ kind: 'Deployment', name: 'web', namespace: ns });
    expect(rem.spec.alert).toMatchObject({
      name: 'AmWebDown',
      status: 'firing',
      labels: alert.labels,
      annotations: alert.annotations,
    });
    const firing = received.find((p) => p.status === 'firing')!;
    expect(firing).toMatchObject({
      version: '4',
      receiver: 'kube-remediator',
      alerts: [{ status: 'firing', labels: alert.labels }],
    });

    // Resolved: the same alert again with endsAt in the past.
    await postToAlertmanager(am!, [{ ...alert, endsAt: new Date(Date.now() - 1000).toISOString() }]);
    const marked = await waitFor(
      async () => {
        const r = await remediations(testClients()).get(ns, rem.metadata.name!);
        return r.metadata.annotations?.['kube-remediator.io/revert'] === 'true' ? r : undefined;
      },
      { timeoutMs: 60_000, what: `the resolved notification\n${am!.output.slice(-10).join('\n')}` },
    );
    expect(marked.spec.alert).toMatchObject({ status: 'resolved', startsAt: rem.spec.alert!.startsAt });
    const resolved = received.find((p) => p.status === 'resolved')!;
    expect(resolved.alerts[0]).toMatchObject({
      status: 'resolved',
      fingerprint: rem.spec.alert!.fingerprint,
    });
    expect(await server.metrics.alertsTotal.get()).toMatchObject({
      values: expect.arrayContaining([
        expect.objectContaining({ labels: { outcome: 'created' }, value: 1 }),
        expect.objectContaining({ labels: { outcome: 'resolved_marked' }, value: 1 }),
      ]),
    });

    if (process.env.KR_UPDATE_FIXTURES === '1') {
      writeFileSync(join(FIXTURES, 'firing.json'), `${JSON.stringify(firing, null, 2)}\n`);
      writeFileSync(join(FIXTURES, 'resolved.json'), `${JSON.stringify(resolved, null, 2)}\n`);
    } else {
      // The kept fixtures still look like what this Alertmanager sends.
      const kept = (name: string) => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as WebhookPayload;
      expect(shape(firing)).toEqual(shape(kept('firing.json')));
      expect(shape(resolved)).toEqual(shape(kept('resolved.json')));
    }
  });
});
