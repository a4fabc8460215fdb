/** The pure decisions of the intake, as tables: matching, param refusal, scope, and the Remediation it builds. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import type { WebhookPayload } from '../../../src/intake/payload.js';
import { isActive, matchingRunbooks, planRunbook } from '../../../src/intake/plan.js';
import { remediationName } from '../../../src/intake/naming.js';
import { aRunbook, anAlert } from './builders.js';

describe('matching', () => {
  const names = (rbs: ReturnType<typeof aRunbook>[], alert = anAlert()) =>
    matchingRunbooks(rbs, alert).map((r) => r.metadata.name);

  it.each([
    ['the alertname matches', { triggers: [{ alertname: 'WebDown' }] }, true],
    ['another alertname', { triggers: [{ alertname: 'DbDown' }] }, false],
    [
      'one of several triggers matches',
      { triggers: [{ alertname: 'DbDown' }, { alertname: 'WebDown' }] },
      true,
    ],
    [
      '= matcher holds',
      {
        triggers: [
          { alertname: 'WebDown', matchers: [{ label: 'deployment', op: '=' as const, value: 'web' }] },
        ],
      },
      true,
    ],
    [
      '= matcher fails',
      {
        triggers: [
          { alertname: 'WebDown', matchers: [{ label: 'deployment', op: '=' as const, value: 'api' }] },
        ],
      },
      false,
    ],
    [
      '!= on a missing label with a value',
      { triggers: [{ alertname: 'WebDown', matchers: [{ label: 'team', op: '!=' as const, value: 'x' }] }] },
      true,
    ],
    [
      '=~ anchored (partial match is no match)',
      {
        triggers: [
          { alertname: 'WebDown', matchers: [{ label: 'deployment', op: '=~' as const, value: 'we' }] },
        ],
      },
      false,
    ],
    [
      '=~ full match',
      {
        triggers: [
          { alertname: 'WebDown', matchers: [{ label: 'deployment', op: '=~' as const, value: 'w.b|api' }] },
        ],
      },
      true,
    ],
    [
      '!~ excludes',
      {
        triggers: [
          { alertname: 'WebDown', matchers: [{ label: 'deployment', op: '!~' as const, value: 'web' }] },
        ],
      },
      false,
    ],
    [
      'a regex that does not compile',
      {
        triggers: [
          { alertname: 'WebDown', matchers: [{ label: 'deployment', op: '=~' as const, value: '(' }] },
        ],
      },
      false,
    ],
    ['no triggers', { triggers: undefined }, false],
  ])('%s', (_what, spec, matches) => {
    expect(names([aRunbook({ spec })])).toEqual(matches ? ['restart-web'] : []);
  });

  it.each([
    ['Ready=True', aRunbook(), true],
    ['Ready=False', aRunbook({ ready: false }), false],
    ['no status', { ...aRunbook(), status: undefined }, false],
    ['suspended', aRunbook({ spec: { suspend: true } }), false],
  ])('a firing alert needs an active runbook: %s', (_what, rb, active) => {
    expect(isActive(rb)).toBe(active);
    expect(names([rb])).toEqual(active ? ['restart-web'] : []);
  });

  it('a resolved alert matches inactive runbooks too, so that reverts still happen', () => {
    expect(
      names(
        [aRunbook({ spec: { suspend: true } }), aRunbook({ name: 'b', ready: false })],
        anAlert({ status: 'resolved' }),
      ),
    ).toEqual(['restart-web', 'b']);
  });

  it('every matching runbook answers', () => {
    expect(
      names([
        aRunbook({ name: 'a' }),
        aRunbook({ name: 'b', spec: { triggers: [{ alertname: 'X' }] } }),
        aRunbook({ name: 'c' }),
      ]),
    ).toEqual(['a', 'c']);
  });
});

describe('param refusal', () => {
  it.each([
    ['a path', '../x'],
    ['upper case', 'Web'],
    ['a semicolon', 'web;rm -rf /'],
    ['300 characters', 'a'.repeat(300)],
    ['a newline', 'web\nkind: Secret'],
    ['a space', 'web api'],
    ['a slash', 'kube-system/web'],
    ['a template', '{{ deployment }}'],
  ])('refuses a name param with %s, with a reason', (_what, value) => {
    const plan = planRunbook(aRunbook(), anAlert({ labels: { deployment: value } }));
    expect(plan).toMatchObject({
      kind: 'refuse',
      outcome: 'suppressed_invalid_param',
      code: 'KR_ERR_INVALID_PARAM',
    });
    expect(plan.kind === 'refuse' && plan.reason).toMatch(/not a valid Kubernetes name/);
  });

  it.each([
    ['a path', '../x'],
    ['upper case', 'Shop'],
    ['a semicolon', 'shop;x'],
    ['64 characters', 'a'.repeat(64)],
    ['a newline', 'shop\n'],
  ])('refuses a namespace param with %s', (_what, value) => {
    const rb = aRunbook({
      spec: {
        params: [
          { name: 'deployment', from: 'labels.deployment' },
          { name: 'ns', from: 'labels.namespace' },
        ],
        target: {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          name: '{{ deployment }}',
          namespace: '{{ ns }}',
        },
      },
    });
    const plan = planRunbook(rb, anAlert({ labels: { namespace: value } }));
    expect(plan).toMatchObject({ kind: 'refuse', outcome: 'suppressed_invalid_param' });
    expect(plan.kind === 'refuse' && plan.reason).toMatch(/not a valid namespace/);
  });

  it('refuses a missing required param, naming it', () => {
    const plan = planRunbook(aRunbook(), anAlert({ labels: { deployment: '' } }));
    expect(plan).toMatchObject({
      kind: 'refuse',
      outcome: 'suppressed_invalid_param',
      code: 'KR_ERR_MISSING_PARAM',
    });
    expect(plan.kind === 'refuse' && plan.reason).toContain('deployment');
  });

  it('uses the default when the label is absent', () => {
    const rb = aRunbook({ spec: { params: [{ name: 'deployment', from: 'labels.app', default: 'web' }] } });
    expect(planRunbook(rb, anAlert())).toMatchObject({
      kind: 'create',
      remediation: { spec: { target: { name: 'web' } } },
    });
  });

  it("refuses a value that a step's own target would reject", () => {
    const rb = aRunbook({
      spec: {
        params: [
          { name: 'deployment', from: 'labels.deployment' },
          { name: 'pod', from: 'labels.pod' },
        ],
        steps: [
          { name: 'restart', action: 'rolloutRestart', rolloutRestart: {} },
          {
            name: 'kill',
            action: 'deletePod',
            target: { apiVersion: 'v1', kind: 'Pod', name: '{{ pod }}' },
            deletePod: { maxCount: 1 },
          },
        ],
      },
    });
    expect(planRunbook(rb, anAlert({ labels: { pod: 'Pod_1' } }))).toMatchObject({
      kind: 'refuse',
      outcome: 'suppressed_invalid_param',
    });
  });

  it('refuses a control character in a text param', () => {
    const rb = aRunbook({
      spec: {
        params: [
          { name: 'deployment', from: 'labels.deployment' },
          { name: 'why', from: 'annotations.summary' },
        ],
        steps: [{ name: 'tell', action: 'notify', notify: { message: 'because {{ why }}' } }],
      },
    });
    expect(planRunbook(rb, anAlert({ annotations: { summary: 'bell\u0007' } }))).toMatchObject({
      kind: 'refuse',
      outcome: 'suppressed_invalid_param',
    });
  });
});

describe('scope', () => {
  const rbWithNs = (allowedNamespaces?: string[]) =>
    aRunbook({
      spec: {
        params: [
          { name: 'deployment', from: 'labels.deployment' },
          { name: 'ns', from: 'labels.namespace', default: 'shop' },
        ],
        target: {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          name: '{{ deployment }}',
          namespace: '{{ ns }}',
        },
        safety: allowedNamespaces ? { allowedNamespaces } : undefined,
      },
    });

  it.each([
    ["the runbook's own namespace", undefined, 'shop', true],
    ['another namespace without an allow-list', undefined, 'kube-system', false],
    ['an allowed namespace', ['payments'], 'payments', true],
    ['the own namespace with an allow-list', ['payments'], 'shop', true],
    ['a namespace outside the allow-list', ['payments'], 'kube-system', false],
  ])('%s', (_what, allowed, ns, ok) => {
    const plan = planRunbook(rbWithNs(allowed), anAlert({ labels: { namespace: ns } }));
    if (ok)
      expect(plan).toMatchObject({ kind: 'create', remediation: { spec: { target: { namespace: ns } } } });
    else {
      expect(plan).toMatchObject({
        kind: 'refuse',
        outcome: 'suppressed_out_of_scope',
        code: 'KR_ERR_OUT_OF_SCOPE',
      });
      expect(plan.kind === 'refuse' && plan.reason).toContain(`"${ns}"`);
    }
  });

  it('checks every step target, not only the main one', () => {
    const rb = aRunbook({
      spec: {
        steps: [
          { name: 'restart', action: 'rolloutRestart', rolloutRestart: {} },
          {
            name: 'other',
            action: 'rolloutRestart',
            target: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'x', namespace: 'elsewhere' },
            rolloutRestart: {},
          },
        ],
      },
    });
    expect(planRunbook(rb, anAlert())).toMatchObject({ kind: 'refuse', outcome: 'suppressed_out_of_scope' });
  });
});

describe('the Remediation to create', () => {
  it('is built from the payload a real Alertmanager sent (fixture)', () => {
    const payload = JSON.parse(
      readFileSync(join(process.cwd(), 'test/fixtures/alertmanager/firing.json'), 'utf8'),
    ) as WebhookPayload;
    const alert = payload.alerts[0]!;
    const rb = aRunbook({
      namespace: alert.labels.namespace,
      spec: { triggers: [{ alertname: 'AmWebDown' }] },
    });
    const plan = planRunbook(rb, alert);
    expect(plan).toMatchObject({
      kind: 'create',
      name: remediationName(alert.labels.namespace!, 'restart-web', '58b8defb5baa4e00', alert.startsAt),
      remediation: {
        spec: {
          target: { name: 'web' },
          alert: { name: 'AmWebDown', fingerprint: '58b8defb5baa4e00', generatorURL: alert.generatorURL },
        },
      },
    });
  });

  it('carries the runbook, params, target, alert and labels', () => {
    const alert = anAlert({ labels: { severity: 'page' } });
    const plan = planRunbook(aRunbook(), alert);
    const name = remediationName('shop', 'restart-web', alert.fingerprint, alert.startsAt);
    expect(plan).toEqual({
      kind: 'create',
      name,
      remediation: {
        apiVersion: 'kube-remediator.io/v1alpha1',
        kind: 'Remediation',
        metadata: {
          name,
          namespace: 'shop',
          labels: {
            'kube-remediator.io/runbook': 'restart-web',
            'kube-remediator.io/alertname': 'WebDown',
            'kube-remediator.io/fingerprint': alert.fingerprint,
            'app.kubernetes.io/managed-by': 'kube-remediator',
          },
        },
        spec: {
          runbookRef: { name: 'restart-web' },
          params: { deployment: 'web' },
          target: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: 'shop' },
          alert: {
            name: 'WebDown',
            fingerprint: alert.fingerprint,
            startsAt: alert.startsAt,
            status: 'firing',
            labels: alert.labels,
            annotations: alert.annotations,
            generatorURL: alert.generatorURL,
          },
        },
      },
    });
  });

  it("takes the first step's target when the runbook has none", () => {
    const rb = aRunbook({
      spec: {
        target: undefined,
        steps: [
          { name: 'check', action: 'httpCheck', httpCheck: { url: 'http://x/' } },
          {
            name: 'restart',
            action: 'rolloutRestart',
            target: { apiVersion: 'apps/v1', kind: 'StatefulSet', name: '{{ deployment }}' },
            rolloutRestart: {},
          },
        ],
      },
    });
    expect(planRunbook(rb, anAlert())).toMatchObject({
      remediation: { spec: { target: { kind: 'StatefulSet', name: 'web', namespace: 'shop' } } },
    });
  });

  it('keeps label values valid and the alert copy within the CRD limits', () => {
    const plan = planRunbook(
      aRunbook({ spec: { triggers: [{ alertname: 'High CPU!' }] } }),
      anAlert({
        labels: { alertname: 'High CPU!' },
        annotations: { big: 'x'.repeat(10_000) },
        generatorURL: `http://x/${'y'.repeat(3000)}`,
      }),
    );
    if (plan.kind !== 'create') throw new Error('expected create');
    expect(plan.remediation.metadata.labels!['kube-remediator.io/alertname']).toMatch(
      /^High-CPU-[0-9a-f]{8}$/,
    );
    expect(plan.remediation.spec.alert!.annotations!.big).toHaveLength(8192);
    expect(plan.remediation.spec.alert!.generatorURL).toBeUndefined();
  });

  it('gates with a cooldown per runbook and target and a rate per runbook', () => {
    const plan = planRunbook(aRunbook({ spec: { safety: { cooldown: '10m', maxPerHour: 5 } } }), anAlert());
    expect(plan).toMatchObject({
      cooldown: { key: 'cooldown:shop/restart-web:Deployment/shop/web', ttlMs: 600_000 },
      rate: { key: 'rate:shop/restart-web', limit: 5, windowMs: 3_600_000 },
    });
    expect(planRunbook(aRunbook(), anAlert())).not.toHaveProperty('cooldown');
  });
});
