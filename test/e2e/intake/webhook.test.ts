/**
 * The intake against the real control plane: exactly one Remediation per alert occurrence
 * (through inject() and through real listening servers, one or two "replicas"), fan-out,
 * refusals recorded as Events and never sent, gates, resolved alerts, and 503 when the API
 * server cannot be reached.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { remediations, runbooks } from '../../../src/kube/resources.js';
import { MemoryLimitStore } from '../../../src/stores/memory.js';
import { FakeClock } from '../../../src/util/clock.js';
import { createNamespace, deleteNamespace, testClients, waitFor } from '../../support/kube.js';
import { aPayload, anAlert, counter, unreachableClients } from '../../unit/intake/builders.js';
import {
  createRunbook,
  listen,
  listRemediations,
  outcomes,
  PATH,
  post,
  runbookEvents,
  startIntake,
  tally,
  TOKEN,
  type TestIntake,
  type WebhookBody,
} from './helpers.js';

const auth = { authorization: `Bearer ${TOKEN}` };
let ns: string;
const servers: TestIntake[] = [];
function intake(o: Parameters<typeof startIntake>[0] = {}): TestIntake {
  const s = startIntake({ namespace: ns, ...o });
  servers.push(s);
  return s;
}

let seq = 0;
/** A fresh alert occurrence (own fingerprint and startsAt). */
function freshAlert(o: Parameters<typeof anAlert>[0] = {}) {
  seq += 1;
  return anAlert({
    fingerprint: (0xa000 + seq).toString(16).padStart(16, '0'),
    startsAt: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString(),
    ...o,
  });
}

beforeAll(async () => {
  ns = await createNamespace('intake');
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.app.close()));
  await deleteNamespace(ns);
});

describe('exactly once', () => {
  it('turns the same alert posted 100 times at once, to two replicas over HTTP, into one Remediation', async () => {
    await createRunbook(ns, 'once', { triggers: [{ alertname: 'Once' }] });
    // Two replicas, each with its own memory store: only the API server's 409 can dedup across them.
    const a = intake();
    const b = intake();
    const [urlA, urlB] = await Promise.all([listen(a.app), listen(b.app)]);
    const alert = freshAlert({ labels: { alertname: 'Once', deployment: 'web' } });
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_x, i) => post(i % 2 ? urlA : urlB, aPayload([alert]))),
    );
    expect(answers.map((r) => r.status)).toEqual(Array(100).fill(200));
    expect(tally(answers.flatMap((r) => outcomes(r.body)))).toEqual({ created: 1, duplicate: 99 });

    const made = (await listRemediations(ns)).filter((r) => r.spec.runbookRef?.name === 'once');
    expect(made).toHaveLength(1);
    const created = answers.flatMap((r) => r.body.alerts[0]!.results).find((r) => r.outcome === 'created');
    expect(created?.remediation).toBe(`${ns}/${made[0]!.metadata.name}`);
    expect(made[0]!.metadata.labels).toMatchObject({
      'kube-remediator.io/runbook': 'once',
      'kube-remediator.io/alertname': 'Once',
      'kube-remediator.io/fingerprint': alert.fingerprint,
      'app.kubernetes.io/managed-by': 'kube-remediator',
    });
    expect(made[0]!.spec).toMatchObject({
      runbookRef: { name: 'once' },
      params: { deployment: 'web' },
      target: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: ns },
      alert: {
        name: 'Once',
        fingerprint: alert.fingerprint,
        startsAt: alert.startsAt,
        status: 'firing',
        labels: alert.labels,
        generatorURL: alert.generatorURL,
      },
    });
    const total =
      (await counter(a.metrics.alertsTotal, { outcome: 'duplicate' })) +
      (await counter(b.metrics.alertsTotal, { outcome: 'duplicate' }));
    expect(total).toBe(99);
    expect(
      (await counter(a.metrics.webhookRequests, { code: '200' })) +
        (await counter(b.metrics.webhookRequests, { code: '200' })),
    ).toBe(100);

    // Runbook status: one alert started a remediation.
    await a.intake.flush();
    await b.intake.flush();
    const rb = await runbooks(testClients()).get(ns, 'once');
    expect(rb.status?.matchedAlerts).toBe(1);
    expect(rb.status?.lastFiredAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(rb.status?.conditions?.[0]?.type).toBe('Ready');
  });

  it('fans a group of 50 alerts out to 50 Remediations through inject(), and counts them on the Runbook', async () => {
    await createRunbook(ns, 'fanout', { triggers: [{ alertname: 'Fan' }] });
    const s = intake();
    const alerts = Array.from({ length: 50 }, (_x, i) =>
      freshAlert({ labels: { alertname: 'Fan', deployment: `web-${i}` } }),
    );
    const res = await s.app.inject({ method: 'POST', url: PATH, headers: auth, payload: aPayload(alerts) });
    expect(res.statusCode).toBe(200);
    expect(tally(outcomes(res.json<WebhookBody>()))).toEqual({ created: 50 });
    const made = (await listRemediations(ns)).filter((r) => r.spec.runbookRef?.name === 'fanout');
    expect(made.map((r) => r.spec.target?.name).sort()).toEqual(
      alerts.map((a) => a.labels.deployment).sort(),
    );

    // Posted again (Alertmanager's retry of the same group): all duplicates, nothing new.
    const again = await s.app.inject({ method: 'POST', url: PATH, headers: auth, payload: aPayload(alerts) });
    expect(tally(outcomes(again.json<WebhookBody>()))).toEqual({ duplicate: 50 });
    expect((await listRemediations(ns)).filter((r) => r.spec.runbookRef?.name === 'fanout')).toHaveLength(50);

    await s.intake.flush();
    expect((await runbooks(testClients()).get(ns, 'fanout')).status?.matchedAlerts).toBe(50);
  });

  it('lets each matching Runbook answer, and ignores Runbooks that are not Ready or are suspended', async () => {
    await createRunbook(ns, 'multi-a', { triggers: [{ alertname: 'Multi' }] });
    await createRunbook(ns, 'multi-b', { triggers: [{ alertname: 'Multi' }] });
    await createRunbook(ns, 'multi-off', { triggers: [{ alertname: 'Multi' }], suspend: true });
    await createRunbook(ns, 'multi-bad', { triggers: [{ alertname: 'Multi' }] }, false);
    const s = intake();
    const res = await s.app.inject({
      method: 'POST',
      url: PATH,
      headers: auth,
      payload: aPayload([freshAlert({ labels: { alertname: 'Multi' } })]),
    });
    expect(res.statusCode).toBe(200);
    const results = res.json<WebhookBody>().alerts[0]!.results as { runbook: string; outcome: string }[];
    expect(results.map((r) => [r.runbook, r.outcome]).sort()).toEqual([
      [`${ns}/multi-a`, 'created'],
      [`${ns}/multi-b`, 'created'],
    ]);
  });
});

describe('refusals', () => {
  it.each([
    ['a path', '../x'],
    ['upper case', 'Web'],
    ['a semicolon', 'web;kubectl delete ns'],
    ['300 characters', 'a'.repeat(300)],
    ['a newline', 'web\nkind: Secret'],
  ])('refuses a label value with %s, with a reason, an Event and no Remediation', async (_what, value) => {
    const rbName = `inj-${seq + 1}`;
    await createRunbook(ns, rbName, { triggers: [{ alertname: rbName }] });
    const s = intake();
    const res = await s.app.inject({
      method: 'POST',
      url: PATH,
      headers: auth,
      payload: aPayload([freshAlert({ labels: { alertname: rbName, deployment: value } })]),
    });
    expect(res.statusCode).toBe(200);
    const r = res.json<WebhookBody>().alerts[0]!.results[0]!;
    expect(r).toMatchObject({
      runbook: `${ns}/${rbName}`,
      outcome: 'suppressed_invalid_param',
      code: 'KR_ERR_INVALID_PARAM',
    });
    expect(r.reason).toMatch(/not a valid Kubernetes name/);
    expect(await counter(s.metrics.alertsTotal, { outcome: 'suppressed_invalid_param' })).toBe(1);
    expect((await listRemediations(ns)).filter((x) => x.spec.runbookRef?.name === rbName)).toHaveLength(0);
    const events = await waitFor(async () => {
      const e = await runbookEvents(ns, rbName);
      return e.length > 0 ? e : undefined;
    });
    expect(events[0]).toMatchObject({ type: 'Warning', reason: 'AlertSuppressed' });
    expect(events[0]!.message).toMatch(/suppressed_invalid_param: .*not a valid Kubernetes name/);
  });

  it('refuses a namespace outside the Runbook scope, and accepts one in the allow-list', async () => {
    await createRunbook(ns, 'scoped', {
      triggers: [{ alertname: 'Scoped' }],
      params: [
        { name: 'deployment', from: 'labels.deployment' },
        { name: 'ns', from: 'labels.namespace' },
      ],
      target: { apiVersion: 'apps/v1', kind: 'Deployment', name: '{{ deployment }}', namespace: '{{ ns }}' },
      safety: { allowedNamespaces: ['payments'] },
    });
    const s = intake();
    const out = freshAlert({ labels: { alertname: 'Scoped', namespace: 'kube-system' } });
    const inside = freshAlert({ labels: { alertname: 'Scoped', namespace: 'payments' } });
    const res = await s.app.inject({
      method: 'POST',
      url: PATH,
      headers: auth,
      payload: aPayload([out, inside]),
    });
    expect(res.statusCode).toBe(200);
    const [a, b] = res.json<WebhookBody>().alerts;
    expect(a!.results[0]).toMatchObject({ outcome: 'suppressed_out_of_scope', code: 'KR_ERR_OUT_OF_SCOPE' });
    expect(a!.results[0]!.reason).toContain('"kube-system"');
    expect(b!.results[0]).toMatchObject({ outcome: 'created' });
    const made = (await listRemediations(ns)).filter((x) => x.spec.runbookRef?.name === 'scoped');
    expect(made.map((x) => x.spec.target?.namespace)).toEqual(['payments']);
    const events = await waitFor(async () => {
      const e = await runbookEvents(ns, 'scoped');
      return e.length > 0 ? e : undefined;
    });
    expect(events.map((e) => e.message).join('\n')).toMatch(/suppressed_out_of_scope/);
  });

  it('answers unmatched for an alert no Runbook answers', async () => {
    const s = intake();
    const res = await s.app.inject({
      method: 'POST',
      url: PATH,
      headers: auth,
      payload: aPayload([freshAlert({ labels: { alertname: 'Nobody' } })]),
    });
    expect(res.statusCode).toBe(200);
    expect(outcomes(res.json<WebhookBody>())).toEqual(['unmatched']);
  });
});

describe('cooldown and rate limit', () => {
  it('suppresses another alert on the same target during the cooldown, while a repeat stays a duplicate', async () => {
    await createRunbook(ns, 'cool', { triggers: [{ alertname: 'Cool' }], safety: { cooldown: '10m' } });
    const s = intake();
    const first = freshAlert({ labels: { alertname: 'Cool', deployment: 'web' } });
    const second = freshAlert({ labels: { alertname: 'Cool', deployment: 'web', pod: 'web-2' } });
    const other = freshAlert({ labels: { alertname: 'Cool', deployment: 'api' } });
    const send = async (a: ReturnType<typeof freshAlert>) =>
      (
        await s.app.inject({ method: 'POST', url: PATH, headers: auth, payload: aPayload([a]) })
      ).json<WebhookBody>().alerts[0]!.results[0]!;
    expect((await send(first)).outcome).toBe('created');
    expect((await send(first)).outcome).toBe('duplicate');
    const cooled = await send(second);
    expect(cooled.outcome).toBe('suppressed_cooldown');
    expect(cooled.reason).toMatch(/cooldown of 10m/);
    expect((await send(other)).outcome).toBe('created');
    expect((await listRemediations(ns)).filter((x) => x.spec.runbookRef?.name === 'cool')).toHaveLength(2);
  });

  it('suppresses beyond maxPerHour, and a repeat of an alert already created is still a duplicate', async () => {
    await createRunbook(ns, 'rate', { triggers: [{ alertname: 'Rate' }], safety: { maxPerHour: 2 } });
    // A store clock that stands still: a run across hh:00 would start a new hour's count.
    const s = intake({
      store: new MemoryLimitStore({ clock: new FakeClock(new Date(Date.UTC(2026, 0, 1, 12))) }),
    });
    const alerts = ['a', 'b', 'c'].map((d) => freshAlert({ labels: { alertname: 'Rate', deployment: d } }));
    const send = async (a: ReturnType<typeof freshAlert>) =>
      (
        await s.app.inject({ method: 'POST', url: PATH, headers: auth, payload: aPayload([a]) })
      ).json<WebhookBody>().alerts[0]!.results[0]!;
    expect((await send(alerts[0]!)).outcome).toBe('created');
    expect((await send(alerts[1]!)).outcome).toBe('created');
    expect((await send(alerts[2]!)).outcome).toBe('suppressed_rate_limit');
    expect((await send(alerts[0]!)).outcome).toBe('duplicate');
    expect((await send(alerts[2]!)).outcome).toBe('suppressed_rate_limit');
    expect((await listRemediations(ns)).filter((x) => x.spec.runbookRef?.name === 'rate')).toHaveLength(2);
  });
});

describe('resolved alerts', () => {
  it('marks the Remediation of the occurrence for revert, and acknowledges an unknown one', async () => {
    await createRunbook(ns, 'heal', { triggers: [{ alertname: 'Heal' }] });
    const s = intake();
    const alert = freshAlert({ labels: { alertname: 'Heal' } });
    const fired = await s.app.inject({
      method: 'POST',
      url: PATH,
      headers: auth,
      payload: aPayload([alert]),
    });
    const name = (fired.json<WebhookBody>().alerts[0]!.results[0]!.remediation as string).split('/')[1]!;

    const endsAt = '2026-01-01T01:00:00Z';
    const unknown = freshAlert({ labels: { alertname: 'Heal' }, status: 'resolved', endsAt });
    const res = await s.app.inject({
      method: 'POST',
      url: PATH,
      headers: auth,
      payload: aPayload([{ ...alert, status: 'resolved', endsAt }, unknown]),
    });
    expect(res.statusCode).toBe(200);
    const [marked, ack] = res.json<WebhookBody>().alerts;
    expect(marked!.results[0]).toMatchObject({ outcome: 'resolved_marked', remediation: `${ns}/${name}` });
    expect(ack!.results[0]).toMatchObject({ outcome: 'resolved_unknown' });

    const rem = await remediations(testClients()).get(ns, name);
    expect(rem.metadata.annotations?.['kube-remediator.io/revert']).toBe('true');
    expect(rem.spec.alert).toMatchObject({ status: 'resolved', endsAt, startsAt: alert.startsAt });
    expect(await counter(s.metrics.alertsTotal, { outcome: 'resolved_marked' })).toBe(1);
    expect(await counter(s.metrics.alertsTotal, { outcome: 'resolved_unknown' })).toBe(1);
  });
});

describe('durability', () => {
  it('answers 503 when the API server cannot be reached, and gives back the cooldown and rate it took', async () => {
    const rb = await createRunbook(ns, 'down', {
      triggers: [{ alertname: 'Down' }],
      safety: { cooldown: '1h', maxPerHour: 1 },
    });
    const store = new MemoryLimitStore();
    // Same Runbooks, same store, but every API call goes to a closed port.
    const broken = intake({ clients: unreachableClients(), runbooks: () => [rb], store });
    const alert = freshAlert({ labels: { alertname: 'Down' } });
    const res = await broken.app.inject({
      method: 'POST',
      url: PATH,
      headers: auth,
      payload: aPayload([alert]),
    });
    expect(res.statusCode).toBe(503);
    expect(res.json<WebhookBody>()).toMatchObject({
      code: 'KR_ERR_KUBE_UNAVAILABLE',
      alerts: [{ results: [{ outcome: 'error', code: 'KR_ERR_KUBE_UNAVAILABLE' }] }],
    });
    expect(await counter(broken.metrics.webhookRequests, { code: '503' })).toBe(1);

    // Alertmanager retries once the API is back: created, not cooled down nor rate limited.
    const healthy = intake({ store });
    const retry = await healthy.app.inject({
      method: 'POST',
      url: PATH,
      headers: auth,
      payload: aPayload([alert]),
    });
    expect(retry.statusCode).toBe(200);
    expect(outcomes(retry.json<WebhookBody>())).toEqual(['created']);
  });

  it('answers 503 over HTTP when the Runbooks cannot be listed either', async () => {
    const s = intake({
      clients: unreachableClients(),
      runbooks: () =>
        runbooks(unreachableClients())
          .list(ns)
          .then((l) => l.items),
    });
    const url = await listen(s.app);
    const res = await post(url, aPayload([freshAlert()]));
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('KR_ERR_KUBE_UNAVAILABLE');
  });
});
