import { describe, expect, it } from '@jest/globals';
import { CONDITION_TYPES, EVENT_REASONS, REASONS } from '../../../../src/api/v1alpha1/constants.js';
import type {
  ActionName,
  GitOpsOwnerRecord,
  RemediationStatus,
} from '../../../../src/api/v1alpha1/schema.js';
import { findCondition } from '../../../../src/api/v1alpha1/conditions.js';
import type {
  ActionInfo,
  Decision,
  GitOpsConfig,
  Observed,
} from '../../../../src/controller/remediation/decision.js';
import { driftCandidates, drifted, pauseSteps } from '../../../../src/controller/remediation/gitops.js';
import { next } from '../../../../src/controller/remediation/protocol.js';
import {
  ACTION_INFO,
  NS,
  T0,
  aRemediation,
  aReversibleStep,
  aRunbook,
  aStep,
  cond,
  observed,
  stepRec,
} from './builders.js';

const CFG: GitOpsConfig = {
  defaultPolicy: 'Refuse',
  defaultMaxPause: '30m',
  driftCheckIntervalMs: 30_000,
  driftWatchMs: 3_600_000,
};
const ARGO: GitOpsOwnerRecord = {
  target: `Deployment/${NS}/web`,
  controller: 'ArgoCD',
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'Application',
  namespace: 'argocd',
  name: 'shop',
  via: 'annotation argocd.argoproj.io/tracking-id',
};
const FLUX: GitOpsOwnerRecord = {
  ...ARGO,
  controller: 'Flux',
  apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
  kind: 'Kustomization',
  namespace: 'flux-system',
  name: 'apps',
  via: 'label kustomize.toolkit.fluxcd.io/name',
};
const INFO: Partial<Record<ActionName, ActionInfo>> = {
  ...ACTION_INFO,
  gitopsPause: { mutating: true, reversible: true },
};
const scaleStep = aReversibleStep({ name: 'scale-up', action: 'scale', scale: { replicas: 3 } });

function obsWith(
  status: RemediationStatus | undefined,
  opts: {
    policy?: 'Refuse' | 'Pause' | 'Coexist';
    owners?: GitOpsOwnerRecord[];
    steps?: ReturnType<typeof aStep>[];
    now?: Date;
    current?: { index: number; found: Record<string, unknown> | undefined }[];
    dryRun?: boolean;
  } = {},
): Observed {
  const rem = aRemediation({
    name: 'r1',
    ...(status ? { status } : {}),
    ...(opts.dryRun
      ? {
          spec: {
            runbookRef: { name: 'restart-web' },
            alert: { name: 'WebDown', status: 'firing', labels: { deployment: 'web' } },
            dryRun: true,
          },
        }
      : {}),
  });
  const runbook = aRunbook({
    spec: { steps: opts.steps ?? [scaleStep], ...(opts.policy ? { gitops: { policy: opts.policy } } : {}) },
  });
  const o = observed(rem, { runbook, now: opts.now ?? T0 });
  return {
    ...o,
    actionInfo: (n) => INFO[n],
    config: { ...o.config, gitops: CFG },
    gitops: {
      ...(status?.startedAt ? {} : { owners: opts.owners ?? [ARGO] }),
      ...(opts.current ? { current: opts.current } : {}),
    },
  };
}

const condOf = (d: Decision, type: string) => findCondition(d.status.conditions, type);
const eventReasons = (d: Decision) => d.notes.flatMap((n) => (n.kind === 'event' ? [n.reason] : []));

describe('the policy gate before the start', () => {
  it('Refuse: Skipped with reason GitOpsManaged, nothing planned, the owner recorded', () => {
    const d = next(obsWith(undefined, { policy: 'Refuse' }));
    expect(d.op).toEqual({ kind: 'none' });
    expect(d.status.phase).toBe('Skipped');
    expect(condOf(d, CONDITION_TYPES.succeeded)).toMatchObject({
      status: 'False',
      reason: REASONS.gitopsManaged,
    });
    expect(d.status.gitops).toMatchObject({ policy: 'Refuse', owners: [ARGO] });
    expect(eventReasons(d)).toContain(EVENT_REASONS.gitopsManaged);
    expect(d.notes.some((n) => n.kind === 'audit' && n.phase === 'Skipped')).toBe(true);
  });

  it('the operator default applies when the Runbook sets no policy (Refuse)', () => {
    expect(next(obsWith(undefined)).status.phase).toBe('Skipped');
  });

  it('no owner: the run starts as before, nothing recorded', () => {
    const d = next(obsWith(undefined, { owners: [] }));
    expect(d.op).toEqual({ kind: 'plan', index: 0, attempt: 1 });
    expect(d.status.gitops).toBeUndefined();
  });

  it('Pause: a gitopsPause step on the Application goes first, reverted last', () => {
    const d = next(obsWith(undefined, { policy: 'Pause' }));
    expect(d.op).toEqual({ kind: 'plan', index: 0, attempt: 1 });
    expect(d.status.steps?.map((s) => [s.name, s.action, s.target])).toEqual([
      ['gitops-pause', 'gitopsPause', 'Application/argocd/shop'],
      ['scale-up', 'scale', `Deployment/${NS}/web`],
    ]);
    expect(d.status.steps?.[0]?.spec).toMatchObject({
      revertOnResolve: true,
      gitopsPause: { controller: 'ArgoCD', maxPause: '30m', targets: [`Deployment/${NS}/web`] },
    });
    expect(d.status.gitops?.policy).toBe('Pause');
  });

  it('Pause with only changes GitOps would not put back: no pause, and the status says why', () => {
    const d = next(obsWith(undefined, { policy: 'Pause', steps: [aStep()] }));
    expect(d.status.steps?.map((s) => s.action)).toEqual(['rolloutRestart']);
    expect(d.status.gitops?.message).toMatch(/nothing paused/);
  });

  it('Pause under Flux: a rollout restart needs the pause (Flux strips restartedAt)', () => {
    const d = next(obsWith(undefined, { policy: 'Pause', steps: [aStep()], owners: [FLUX] }));
    expect(d.status.steps?.map((s) => s.target)).toEqual([
      'Kustomization/flux-system/apps',
      `Deployment/${NS}/web`,
    ]);
  });

  it('Pause in a dry run: nothing paused, the status says a real run would', () => {
    const d = next(obsWith(undefined, { policy: 'Pause', dryRun: true }));
    expect(d.status.steps?.map((s) => s.action)).toEqual(['scale']);
    expect(d.status.gitops?.message).toMatch(/dry run/);
  });

  it('Coexist: runs as is, the owner recorded', () => {
    const d = next(obsWith(undefined, { policy: 'Coexist' }));
    expect(d.status.steps?.map((s) => s.action)).toEqual(['scale']);
    expect(d.status.gitops).toMatchObject({ policy: 'Coexist', owners: [ARGO] });
    expect(d.status.gitops?.message).toMatch(/managedFieldsManagers/);
  });
});

describe('pauseSteps', () => {
  it('one per owner, names kept unique', () => {
    const steps = [
      stepRec({
        name: 'gitops-pause',
        action: 'scale',
        target: `Deployment/${NS}/web`,
        spec: { action: 'scale' },
      }),
      stepRec({ name: 'b', action: 'setEnv', target: `Deployment/${NS}/api`, spec: { action: 'setEnv' } }),
    ];
    const api = { ...ARGO, target: `Deployment/${NS}/api` };
    const out = pauseSteps(steps, [ARGO, api], '10m');
    expect(out.map((s) => s.name)).toEqual(['gitops-pause-2']);
    expect(out[0]?.spec).toMatchObject({
      gitopsPause: { targets: [`Deployment/${NS}/web`, `Deployment/${NS}/api`] },
    });
  });
});

/** A started Pause run: the pause step done at T0, the scale step as given. */
function pausedRun(
  scale: Partial<RemediationStatus['steps'] extends (infer S)[] | undefined ? S : never>,
  extra: Partial<RemediationStatus> = {},
): RemediationStatus {
  const pause = pauseSteps(
    [stepRec({ name: 'scale-up', action: 'scale', spec: scaleStep })],
    [ARGO],
    '30m',
  )[0]!;
  return {
    startedAt: '2026-01-01T00:00:00Z',
    target: 'Deployment/web',
    gitops: { policy: 'Pause', owners: [ARGO] },
    conditions: [cond(CONDITION_TYPES.progressing, 'True', REASONS.stepRunning)],
    steps: [
      {
        ...pause,
        phase: 'Succeeded',
        attempt: 1,
        finishedAt: '2026-01-01T00:00:00Z',
        before: { path: '/spec/syncPolicy/automated/selfHeal', prior: { value: true }, holders: [] },
        after: { path: '/spec/syncPolicy/automated/selfHeal', value: false, holders: ['uid-r1'] },
      },
      { ...stepRec({ name: 'scale-up', action: 'scale', spec: scaleStep }), ...scale },
    ],
    ...extra,
  };
}

describe('the pause while the run goes on and after', () => {
  it('held: GitOpsPaused=True until the deadline', () => {
    const d = next(obsWith(pausedRun({ phase: 'Pending' })));
    expect(condOf(d, CONDITION_TYPES.gitopsPaused)).toMatchObject({
      status: 'True',
      reason: REASONS.gitopsPaused,
    });
    expect(d.op).toEqual({ kind: 'plan', index: 1, attempt: 1 });
  });

  it('the run failed (no onFailure.revert): the pause is checkpointed Reverting, then reverted', () => {
    const failedRun = pausedRun(
      { phase: 'Failed', attempt: 1, finishedAt: '2026-01-01T00:00:10Z', message: 'boom' },
      {
        completedAt: '2026-01-01T00:00:10Z',
        conditions: [cond(CONDITION_TYPES.succeeded, 'False', REASONS.stepFailed)],
      },
    );
    const d1 = next(obsWith(failedRun, { now: new Date(T0.getTime() + 20_000) }));
    expect(d1.status.steps?.[0]?.phase).toBe('Reverting');
    expect(d1.op).toEqual({ kind: 'none' });
    const d2 = next(obsWith(d1.status, { now: new Date(T0.getTime() + 21_000) }));
    expect(d2.op).toEqual({ kind: 'revert', index: 0, attempt: 1 });
    const d3 = next(obsWith(d1.status, { now: new Date(T0.getTime() + 21_000) }), {
      op: { kind: 'revert', index: 0, attempt: 1 },
      outcome: { kind: 'done', message: 'restored' },
      at: new Date(T0.getTime() + 21_000),
    });
    expect(d3.status.steps?.[0]?.phase).toBe('Reverted');
    expect(condOf(d3, CONDITION_TYPES.gitopsPaused)).toMatchObject({
      status: 'False',
      reason: REASONS.gitopsRestored,
    });
    expect(d3.status.phase).toBe('Failed');
  });

  it('maxPause passed while the change is in place: restored anyway, and the person is told', () => {
    const done = pausedRun(
      {
        phase: 'Succeeded',
        attempt: 1,
        finishedAt: '2026-01-01T00:00:05Z',
        after: { replicas: 3 },
        before: { replicas: 1 },
      },
      {
        completedAt: '2026-01-01T00:00:05Z',
        conditions: [cond(CONDITION_TYPES.succeeded, 'True', REASONS.allStepsSucceeded)],
      },
    );
    const early = next(obsWith(done, { now: new Date(T0.getTime() + 60_000) }));
    expect(early.status.steps?.[0]?.phase).toBe('Succeeded');
    expect(early.requeueAfterMs).toBeLessThanOrEqual(30_000);
    const late = next(obsWith(done, { now: new Date(T0.getTime() + 30 * 60_000) }));
    expect(late.status.steps?.[0]?.phase).toBe('Reverting');
    expect(late.status.steps?.[0]?.message).toMatch(/maxPause/);
    expect(
      late.notes.some((n) => n.kind === 'event' && n.type === 'Warning' && /maxPause/.test(n.message)),
    ).toBe(true);
  });

  it('a revert on resolve unwinds the changes first and the pause last', () => {
    const done = pausedRun(
      {
        phase: 'Succeeded',
        attempt: 1,
        finishedAt: '2026-01-01T00:00:05Z',
        after: { replicas: 3 },
        before: { replicas: 1 },
      },
      {
        completedAt: '2026-01-01T00:00:05Z',
        conditions: [cond(CONDITION_TYPES.succeeded, 'True', REASONS.allStepsSucceeded)],
      },
    );
    const o = obsWith(done, { now: new Date(T0.getTime() + 60_000) });
    const resolved = {
      ...o,
      peers: [],
      remediation: {
        ...o.remediation,
        spec: { ...o.remediation.spec, alert: { name: 'WebDown', status: 'resolved' as const } },
      },
    };
    const d = next(resolved);
    expect(d.status.steps?.map((s) => s.phase)).toEqual(['Succeeded', 'Reverting']);
  });
});

describe('drift after the change', () => {
  const finished = (): RemediationStatus =>
    pausedRun(
      {
        phase: 'Succeeded',
        attempt: 1,
        finishedAt: '2026-01-01T00:00:05Z',
        after: { replicas: 3 },
        before: { replicas: 1 },
      },
      {
        completedAt: '2026-01-01T00:00:05Z',
        conditions: [cond(CONDITION_TYPES.succeeded, 'True', REASONS.allStepsSucceeded)],
      },
    );

  it('the scale step is watched', () => {
    expect(driftCandidates(finished(), new Date(T0.getTime() + 60_000), CFG)).toEqual([1]);
  });

  it('the value still holds: no drift, look again after the interval', () => {
    const d = next(
      obsWith(finished(), {
        now: new Date(T0.getTime() + 60_000),
        current: [{ index: 1, found: { replicas: 3 } }],
      }),
    );
    expect(condOf(d, CONDITION_TYPES.drifted)).toBeUndefined();
    expect(d.requeueAfterMs).toBeLessThanOrEqual(30_000);
    expect(d.status.gitops?.watchUntil).toBeDefined();
  });

  it('put back: Drifted=True, a Warning Event, the record, and the watch of that step ends', () => {
    const d = next(
      obsWith(finished(), {
        now: new Date(T0.getTime() + 60_000),
        current: [{ index: 1, found: { replicas: 1 } }],
      }),
    );
    expect(condOf(d, CONDITION_TYPES.drifted)).toMatchObject({ status: 'True', reason: REASONS.changedBack });
    expect(eventReasons(d)).toContain(EVENT_REASONS.drifted);
    expect(d.status.gitops?.drift).toEqual([
      expect.objectContaining({ step: 'scale-up', expected: { replicas: 3 }, found: { replicas: 1 } }),
    ]);
    expect(driftCandidates(d.status, new Date(T0.getTime() + 61_000), CFG)).toEqual([]);
  });

  it('drifted(): setEnv reads carry a list index that does not count', () => {
    expect(
      drifted(
        { containers: { web: { M: { value: 'on' } } } },
        { containers: { web: { M: { value: 'on', index: 0 } } } },
      ),
    ).toBe(false);
    expect(
      drifted(
        { containers: { web: { M: { value: 'on' } } } },
        { containers: { web: { M: { absent: true } } } },
      ),
    ).toBe(true);
  });
});
