import { describe, expect, test } from '@jest/globals';
import {
  applyEnvStates,
  envOps,
  planEnv,
  revertEnvPlan,
  stateOf,
  type EnvRecord,
  type EnvVar,
} from '../../../src/actions/kubernetes/set-env.js';
import { applyJsonPatch } from '../../../src/actions/kubernetes/patch-apply.js';

const secretRef = { secretKeyRef: { name: 's', key: 'k' } };
const containers = () => [
  {
    name: 'app',
    env: [
      { name: 'A', value: '1' },
      { name: 'S', valueFrom: secretRef },
      { name: 'Z', value: 'z' },
    ] as EnvVar[],
  },
  { name: 'side' },
];
const template = () => ({ spec: { template: { spec: { containers: containers() } } } });

describe('stateOf', () => {
  test.each([
    ['A', { value: '1', index: 0 }],
    ['S', { valueFrom: secretRef, index: 1 }],
    ['NOPE', { absent: true }],
  ])('%s', (name, state) => {
    expect(stateOf(containers()[0]!.env, name)).toEqual(state);
  });
});

describe('planEnv', () => {
  test('records the exact prior state per container and variable', () => {
    const plan = planEnv(containers(), {
      env: [
        { name: 'A', value: '2' },
        { name: 'S', value: 'plain' },
        { name: 'NEW', value: 'n' },
        { name: 'Z', unset: true },
      ],
    });
    expect(plan.before).toEqual({
      containers: {
        app: {
          A: { value: '1', index: 0 },
          S: { valueFrom: secretRef, index: 1 },
          NEW: { absent: true },
          Z: { value: 'z', index: 2 },
        },
        side: { A: { absent: true }, S: { absent: true }, NEW: { absent: true }, Z: { absent: true } },
      },
    });
    expect(plan.after).toEqual({
      containers: {
        app: { A: { value: '2' }, S: { value: 'plain' }, NEW: { value: 'n' }, Z: { absent: true } },
        side: { A: { value: '2' }, S: { value: 'plain' }, NEW: { value: 'n' }, Z: { absent: true } },
      },
    });
  });

  test('only the named containers', () => {
    const plan = planEnv(containers(), { containers: ['side'], env: [{ name: 'A', value: '2' }] });
    expect(Object.keys(plan.before!.containers as object)).toEqual(['side']);
  });

  test('an unknown container is refused, naming the field', () => {
    const plan = planEnv(containers(), { containers: ['nope'], env: [{ name: 'A', value: '2' }] });
    expect(plan.refused?.reason).toBe('ContainerNotFound');
    expect(plan.refused?.message).toMatch(/^setEnv.containers: container\(s\) nope not in the pod template/);
  });
});

describe('applyEnvStates', () => {
  test.each([
    ['set existing keeps position', { A: { value: '2' } }, ['A=2', 'S<-', 'Z=z']],
    ['value replaces valueFrom', { S: { value: 'p' } }, ['A=1', 'S=p', 'Z=z']],
    ['new goes last', { N: { value: 'n' } }, ['A=1', 'S<-', 'Z=z', 'N=n']],
    ['unset removes', { A: { absent: true } }, ['S<-', 'Z=z']],
    ['restore at recorded index', { A: { value: '1', index: 0 } }, ['A=1', 'S<-', 'Z=z']],
    ['unset of absent is a no-op', { Q: { absent: true } }, ['A=1', 'S<-', 'Z=z']],
  ] as const)('%s', (_name, states, want) => {
    const base =
      _name === 'restore at recorded index' ? containers()[0]!.env!.slice(1) : containers()[0]!.env;
    const out = applyEnvStates(base, states);
    expect(out.map((e) => (e.valueFrom ? `${e.name}<-` : `${e.name}=${e.value}`))).toEqual(want);
  });
});

describe('envOps: apply then revert restores exactly', () => {
  test.each([
    [{ env: [{ name: 'A', value: '2' }] }],
    [{ env: [{ name: 'S', value: 'plain' }] }],
    [
      {
        env: [
          { name: 'A', unset: true },
          { name: 'S', unset: true },
        ],
      },
    ],
    [{ env: [{ name: 'NEW', value: 'n' }], containers: ['side'] }],
    [
      {
        env: [
          { name: 'NEW', value: 'n' },
          { name: 'Z', unset: true },
        ],
      },
    ],
  ])('%j', (params) => {
    const obj = template();
    const plan = planEnv(obj.spec.template.spec.containers, params);
    const applyOps = envOps(obj.spec.template.spec.containers, plan.after!.containers as EnvRecord);
    if ('error' in applyOps) throw new Error(applyOps.error);
    const changed = applyJsonPatch(obj, applyOps);
    expect(changed).not.toEqual(obj);
    // idempotent: a second apply finds nothing to do
    expect(envOps(changed.spec.template.spec.containers, plan.after!.containers as EnvRecord)).toEqual([]);
    const revertOps = envOps(changed.spec.template.spec.containers, plan.before!.containers as EnvRecord);
    if ('error' in revertOps) throw new Error(revertOps.error);
    const reverted = applyJsonPatch(changed, revertOps);
    expect(reverted.spec.template.spec.containers[0]).toEqual(obj.spec.template.spec.containers[0]);
    expect((reverted.spec.template.spec.containers[1] as { env?: unknown[] }).env ?? []).toEqual([]);
  });

  test('guards each container with a test of its name', () => {
    const ops = envOps(containers(), { side: { A: { value: '1' } } });
    expect(ops).toEqual([
      { op: 'test', path: '/spec/template/spec/containers/1/name', value: 'side' },
      { op: 'add', path: '/spec/template/spec/containers/1/env', value: [{ name: 'A', value: '1' }] },
    ]);
  });

  test('an empty value equals the server dropping it', () => {
    expect(envOps([{ name: 'app', env: [{ name: 'E' }] }], { app: { E: { value: '' } } })).toEqual([]);
  });

  test('a container that went away is an error', () => {
    expect(envOps(containers(), { gone: { A: { value: '1' } } })).toEqual({
      error: 'container gone is no longer in the pod template',
    });
  });
});

describe('revertEnvPlan: compare-and-swap', () => {
  const before: EnvRecord = { app: { A: { value: '1', index: 0 }, NEW: { absent: true } } };
  const after: EnvRecord = { app: { A: { value: '2' }, NEW: { value: 'n' } } };
  const withEnv = (env: EnvVar[]) => [{ name: 'app', env }];

  test("restores what still holds the step's values", () => {
    expect(
      revertEnvPlan(
        withEnv([
          { name: 'A', value: '2' },
          { name: 'NEW', value: 'n' },
        ]),
        before,
        after,
      ),
    ).toEqual({ restore: before });
  });

  test('leaves out what is already back (a revert repeated after a crash)', () => {
    expect(revertEnvPlan(withEnv([{ name: 'A', value: '1' }]), before, after)).toEqual({ restore: {} });
    expect(
      revertEnvPlan(
        withEnv([
          { name: 'A', value: '1' },
          { name: 'NEW', value: 'n' },
        ]),
        before,
        after,
      ),
    ).toEqual({ restore: { app: { NEW: { absent: true } } } });
  });

  test('a step that found the value already set (before = after) restores nothing', () => {
    const same: EnvRecord = { app: { D: { value: 'memory', index: 0 } } };
    expect(
      revertEnvPlan(withEnv([{ name: 'D', value: 'memory' }]), same, { app: { D: { value: 'memory' } } }),
    ).toEqual({ restore: {} });
  });

  test.each([
    [
      [
        { name: 'A', value: '3' },
        { name: 'NEW', value: 'n' },
      ],
      'env A of container app changed since the step (now "3", step set "2"); not reverted',
    ],
    [
      [
        { name: 'A', value: '2' },
        { name: 'NEW', value: 'm' },
      ],
      'env NEW of container app changed since the step (now "m", step set "n"); not reverted',
    ],
    [
      [
        { name: 'A', valueFrom: secretRef },
        { name: 'NEW', value: 'n' },
      ],
      'env A of container app changed since the step (now valueFrom {"secretKeyRef":{"key":"k","name":"s"}}, step set "2"); not reverted',
    ],
  ] as [EnvVar[], string][])('anything else refuses the whole revert (%#)', (env, changed) => {
    expect(revertEnvPlan(withEnv(env), before, after)).toEqual({ changed });
  });

  test('without a recorded after only an already restored env is done', () => {
    expect(revertEnvPlan(withEnv([{ name: 'A', value: '2' }]), before, undefined)).toEqual({
      changed:
        'env A of container app changed since the step (now "2", step set nothing recorded); not reverted',
    });
  });

  test('a guarded envOps tests the env list it was computed from', () => {
    const ops = envOps(containers(), { app: { A: { value: '9' } } }, true);
    expect(ops).toEqual([
      { op: 'test', path: '/spec/template/spec/containers/0/name', value: 'app' },
      { op: 'test', path: '/spec/template/spec/containers/0/env', value: containers()[0]!.env },
      expect.objectContaining({ op: 'add', path: '/spec/template/spec/containers/0/env' }),
    ]);
  });
});
