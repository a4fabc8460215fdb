import { describe, expect, it } from '@jest/globals';
import type { RunbookSpec } from '../../../src/api/v1alpha1/schema.js';
import { validateRunbook, validateSteps } from '../../../src/runbook/validate.js';
import { parseClearBlock, stampClearBlock } from '../../../src/runbook/clear-block.js';
import { aRunbook, aStep } from '../controller/remediation/builders.js';

const spec = (over: Partial<RunbookSpec> = {}): RunbookSpec => ({ ...aRunbook().spec, ...over });

describe('validateRunbook', () => {
  it('a valid runbook has no problems', () => {
    expect(validateRunbook(spec(), 'shop')).toEqual([]);
  });

  it.each<[string, Partial<RunbookSpec>, string]>([
    [
      'undeclared param',
      { target: { apiVersion: 'apps/v1', kind: 'Deployment', name: '{{ nope }}' } },
      'target.name: refers to param "nope"',
    ],
    [
      'bad template',
      {
        steps: [aStep({ action: 'notify', rolloutRestart: undefined, notify: { message: 'hi {{ a b }}' } })],
      },
      'steps[0].notify.message: template',
    ],
    [
      'duplicate step names',
      { steps: [aStep(), aStep()] },
      'steps[1].name: "restart" is used by an earlier step',
    ],
    [
      'duplicate params',
      { params: [{ name: 'deployment' }, { name: 'deployment' }] },
      'params[1].name: "deployment" is declared twice',
    ],
    [
      'missing action parameters',
      { steps: [aStep({ action: 'scale', rolloutRestart: undefined })] },
      'steps[0].scale: parameters are required',
    ],
    [
      'parameters of another action',
      { steps: [aStep({ scale: { replicas: 1 } })] },
      'steps[0].scale: set, but the action is rolloutRestart',
    ],
    [
      'bad regex',
      { triggers: [{ alertname: 'X', matchers: [{ label: 'a', op: '=~', value: '(' }] }] },
      'triggers[0].matchers[0].value: invalid regular expression',
    ],
    [
      'min > max replicas',
      { safety: { bounds: { minReplicas: 5, maxReplicas: 2 } } },
      'safety.bounds: minReplicas (5) is greater than maxReplicas (2)',
    ],
    [
      'literal namespace out of scope',
      { target: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: 'kube-system' } },
      'target.namespace: namespace "kube-system" is outside',
    ],
    [
      'schema: replicas negative',
      { steps: [aStep({ action: 'scale', rolloutRestart: undefined, scale: { replicas: -1 } })] },
      'steps[0].scale.replicas',
    ],
    ['schema: unknown action', { steps: [aStep({ action: 'explode' as never })] }, 'steps[0].action'],
    [
      'no target for a targeted action',
      { target: undefined, params: [] },
      'steps[0].target: action rolloutRestart needs a target',
    ],
    [
      'revertOnResolve on an irreversible action',
      { steps: [aStep({ revertOnResolve: true })] },
      'steps[0].revertOnResolve: action rolloutRestart cannot be reverted',
    ],
    [
      'wrong target kind',
      { steps: [aStep({ target: { apiVersion: 'v1', kind: 'ConfigMap', name: 'x' } })] },
      'steps[0].target.kind',
    ],
  ])('%s', (_n, over, problem) => {
    const problems = validateRunbook(spec(over), 'shop');
    expect(problems.join('\n')).toContain(problem);
  });

  it('quantities in bounds must parse (the CRD pattern is looser than a quantity)', () => {
    const problems = validateRunbook(spec({ safety: { bounds: { maxMemory: '0' } } }), 'shop');
    expect(problems.join('\n')).toContain('safety.bounds.maxMemory: must be greater than 0');
  });

  it('allowedNamespaces make a literal namespace valid', () => {
    expect(
      validateRunbook(
        spec({
          target: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: 'other' },
          safety: { allowedNamespaces: ['other'] },
        }),
        'shop',
      ),
    ).toEqual([]);
  });

  it('inline steps: params from spec.params, target from spec.target', () => {
    const steps = [aStep({ target: { apiVersion: 'apps/v1', kind: 'Deployment', name: '{{ d }}' } })];
    expect(validateSteps(steps, 'shop', { params: ['d'] })).toEqual([]);
    expect(validateSteps(steps, 'shop', {}).join()).toContain('refers to param "d"');
    expect(
      validateSteps([aStep()], 'shop', {
        target: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
      }),
    ).toEqual([]);
  });
});

describe('clear-block annotation', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  it.each([
    ['Deployment/shop/web', 'Deployment/shop/web@2026-01-01T00:00:00Z'],
    ['*', '*@2026-01-01T00:00:00Z'],
    [
      'Deployment/shop/web@2025-01-01T00:00:00Z, Deployment/shop/api',
      'Deployment/shop/web@2025-01-01T00:00:00Z,Deployment/shop/api@2026-01-01T00:00:00Z',
    ],
  ])('stamps %s', (value, want) => {
    expect(stampClearBlock(value, now)).toBe(want);
  });

  it('keeps the milliseconds of a stamp, which order it against a failure in the same second', () => {
    const at = new Date('2026-01-01T00:00:00.900Z');
    expect(stampClearBlock('Deployment/shop/web', at)).toBe('Deployment/shop/web@2026-01-01T00:00:00.900Z');
    expect(parseClearBlock('Deployment/shop/web@2026-01-01T00:00:00.900Z')[0]?.at).toEqual(at);
  });

  it('leaves stamped entries alone', () => {
    expect(stampClearBlock('Deployment/shop/web@2025-01-01T00:00:00Z', now)).toBeUndefined();
    expect(stampClearBlock(undefined, now)).toBeUndefined();
  });

  it('parses entries', () => {
    expect(parseClearBlock('A/b/c@2025-01-01T00:00:00Z,,*')).toEqual([
      { target: 'A/b/c', at: new Date('2025-01-01T00:00:00Z') },
      { target: '*' },
    ]);
  });
});
