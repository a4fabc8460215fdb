import { describe, expect, it } from '@jest/globals';
import { render, renderStep, renderTarget, resolveParams } from '../../../src/runbook/template.js';
import { matcherMatches, triggerMatches } from '../../../src/runbook/match.js';

describe('templates', () => {
  const params = [
    { name: 'ns', from: 'labels.namespace', default: 'default' },
    { name: 'deployment', from: 'labels.deployment' },
    { name: 'summary', from: 'annotations.summary', required: false },
  ];

  it('resolves params from labels and annotations, with defaults and overrides', () => {
    expect(resolveParams(params, { labels: { deployment: 'web' } })).toEqual({
      values: { ns: 'default', deployment: 'web' },
      missing: [],
    });
    expect(resolveParams(params, { labels: {} }).missing).toEqual(['deployment']);
    expect(
      resolveParams(params, { labels: { deployment: 'web' } }, { deployment: 'api' }).values.deployment,
    ).toBe('api');
  });

  it.each([
    ['../x', 'not a valid Kubernetes name'],
    ['Web', 'not a valid Kubernetes name'],
    ['web;rm -rf /', 'not a valid Kubernetes name'],
    ['a'.repeat(300), 'not a valid Kubernetes name'],
    ['web\nevil', 'not a valid Kubernetes name'],
  ])('refuses the name %j', (value, reason) => {
    expect(() => render('{{ deployment }}', { deployment: value }, 'name')).toThrow(reason);
  });

  it('refuses namespaces that are not DNS-1123 labels', () => {
    expect(() =>
      renderTarget(
        { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: '{{ ns }}' },
        { ns: 'a.b' },
        'x',
      ),
    ).toThrow('not a valid namespace');
  });

  it('names the missing param and refuses expressions', () => {
    expect(() => render('{{ nope }}', {})).toThrow('param "nope" has no value');
    expect(() => render('{{ constructor.constructor("x")() }}', {})).toThrow('is not a param name');
  });

  it('percent-encodes params inside URLs and keeps text as is', () => {
    const step = renderStep(
      { name: 'check', action: 'httpCheck', httpCheck: { url: 'http://svc/{{ ns }}/health?q={{ q }}' } },
      { ns: 'a/b', q: 'x&y=1' },
    );
    expect(step.httpCheck?.url).toBe('http://svc/a%2Fb/health?q=x%26y%3D1');
  });
});

describe('matchers (Alertmanager semantics)', () => {
  it.each([
    ['=', 'critical', { severity: 'critical' }, true],
    ['!=', 'critical', { severity: 'critical' }, false],
    ['!=', 'critical', {}, true],
    ['=~', 'crit.*', { severity: 'critical' }, true],
    ['=~', 'crit', { severity: 'critical' }, false], // anchored
    ['!~', 'warn|info', { severity: 'critical' }, true],
    ['=~', '', {}, true], // a missing label is the empty string
  ] as const)('%s %s on %j → %s', (op, value, labels, want) => {
    expect(matcherMatches({ label: 'severity', op, value }, labels)).toBe(want);
  });

  it('requires the alertname and every matcher', () => {
    const t = { alertname: 'RedisDown', matchers: [{ label: 'env', op: '=' as const, value: 'prod' }] };
    expect(triggerMatches(t, { alertname: 'RedisDown', env: 'prod' })).toBe(true);
    expect(triggerMatches(t, { alertname: 'RedisDown', env: 'dev' })).toBe(false);
    expect(triggerMatches(t, { alertname: 'Other', env: 'prod' })).toBe(false);
  });
});
