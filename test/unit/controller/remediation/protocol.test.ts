import { describe, expect, it } from '@jest/globals';
import { ANNOTATIONS, CONDITION_TYPES, REASONS } from '../../../../src/api/v1alpha1/constants.js';
import type { Bounds, Remediation, Runbook } from '../../../../src/api/v1alpha1/schema.js';
import type { ActionOutcome, Plan } from '../../../../src/actions/types.js';
import {
  BLOCKED_REQUEUE_MS,
  CHECKPOINT_REQUEUE_MS,
  type Decision,
  type Observed,
} from '../../../../src/controller/remediation/decision.js';
import { next } from '../../../../src/controller/remediation/protocol.js';
import type { ActionName } from '../../../../src/api/v1alpha1/schema.js';
import { REVERT_MAX_ATTEMPTS, STEP_RETRY_BASE_MS } from '../../../../src/controller/remediation/retry.js';
import { findCondition } from '../../../../src/api/v1alpha1/conditions.js';
import { LocalStarts } from '../../../../src/controller/remediation/local-starts.js';
import { effectiveSafety } from '../../../../src/controller/remediation/resolve.js';
import { FakeClock } from '../../../../src/util/clock.js';
import {
  ACTION_INFO,
  NS,
  T0,
  aFinished,
  aRemediation,
  aRunbook,
  aReversibleStep,
  aRunning,
  aStep,
  cond,
  observed,
  stepRec,
  withStatus,
} from './builders.js';

const condOf = (d: Decision, type: string) => findCondition(d.status.conditions, type);
const events = (d: Decision) =>
  d.notes.filter((n) => n.kind === 'event').map((n) => (n.kind === 'event' ? n.reason : ''));
/** The Events of a decision as `reason: message` (ADR 0026: one Event per outcome). */
const eventLines = (d: Decision) =>
  d.notes.flatMap((n) => (n.kind === 'event' ? [`${n.reason}: ${n.message}`] : []));
const audits = (d: Decision) =>
  d.notes.filter((n) => n.kind === 'audit').map((n) => (n.kind === 'audit' ? n.event : ''));

const done = (
  message = 'ok',
  extra: Partial<Extract<ActionOutcome, { kind: 'done' }>> = {},
): ActionOutcome => ({ kind: 'done', message, ...extra });
const failed = (retryable = true, reason = 'StepFailed'): ActionOutcome => ({
  kind: 'failed',
  message: 'boom',
  code: 'KR_ERR_ACTION_FAILED',
  reason,
  retryable,
});

const planOp = (index = 0, attempt = 1) => ({ kind: 'plan', index, attempt }) as const;
const applyOp = (index = 0, attempt = 1) => ({ kind: 'apply', index, attempt }) as const;
const revertOp = (index: number, attempt = 1) => ({ kind: 'revert', index, attempt }) as const;
/** `next` after plan() gave `plan` for step `index` of `obs`. */
const planned = (obs: Observed, plan: Plan = {}, op = planOp()) => next(obs, { op, result: { plan } });
/** `next` after apply() gave `outcome` for the checkpointed step of `obs`. */
const applied = (obs: Observed, outcome: ActionOutcome, op = applyOp()) =>
  next(obs, { op, outcome, at: obs.now });
/** `next` after revert() gave `outcome` for step `index` of `obs`. */
const reverted = (obs: Observed, outcome: ActionOutcome, index: number) =>
  next(obs, { op: revertOp(index), outcome, at: obs.now });

/**
 * Passes as the reconciler makes them: `next(obs)`; the operation it asks for (`plan`,
 * `outcome`, `revert` answer); `next(obs, effect)`; the status written back. Until nothing more
 * happens or `maxPasses`.
 */
function drive(
  rem: Remediation,
  opts: {
    obs?: (r: Remediation) => Observed;
    plan?: (index: number) => Plan;
    outcome?: (index: number, n: number) => ActionOutcome;
    revert?: (index: number) => ActionOutcome;
    /** checkRevert's answer (actions that check, see ACTION_INFO_CHECKING): undefined, revert. */
    check?: (index: number) => string | undefined;
    clock?: FakeClock;
    maxPasses?: number;
  } = {},
): { rem: Remediation; ops: string[]; decisions: Decision[] } {
  const ops: string[] = [];
  const decisions: Decision[] = [];
  const calls = new Map<number, number>();
  let cur = rem;
  for (let i = 0; i < (opts.maxPasses ?? 50); i++) {
    const obs = (opts.obs ?? ((r) => observed(r, { clock: opts.clock })))(cur);
    let d = next(obs);
    const op = d.op;
    if (op.kind === 'plan') {
      ops.push(`plan ${op.index}#${op.attempt}`);
      d = planned(obs, opts.plan?.(op.index) ?? { before: { n: op.index }, after: { n: op.index + 1 } }, op);
    } else if (op.kind === 'apply') {
      const n = (calls.get(op.index) ?? 0) + 1;
      calls.set(op.index, n);
      ops.push(`apply ${op.index}`);
      d = applied(obs, opts.outcome?.(op.index, n) ?? done(), op);
    } else if (op.kind === 'revert') {
      ops.push(`revert ${op.index}`);
      d = reverted(obs, opts.revert?.(op.index) ?? done('restored'), op.index);
    } else if (op.kind === 'checkRevert') {
      ops.push(`check ${op.index}`);
      d = next(obs, { op, nothingToDo: opts.check?.(op.index), at: obs.now });
    }
    decisions.push(d);
    const written = withStatus(cur, d.status);
    if (op.kind === 'none' && JSON.stringify(written.status) === JSON.stringify(cur.status)) break;
    cur = written;
    if (op.kind === 'none' && d.requeueAfterMs === undefined) {
      // waiting for an event; stop like the runtime would
      break;
    }
    if (opts.clock && d.requeueAfterMs && d.requeueAfterMs > 1) opts.clock.advance(d.requeueAfterMs);
  }
  return { rem: cur, ops, decisions };
}

const threeSteps = aRunbook({
  spec: {
    steps: [
      aStep({ name: 'restart' }),
      aStep({
        name: 'scale-up',
        action: 'scale',
        rolloutRestart: undefined,
        scale: { replicas: 3 },
        revertOnResolve: true,
      }),
      aStep({
        name: 'env',
        action: 'setEnv',
        rolloutRestart: undefined,
        setEnv: { env: [{ name: 'A', value: '1' }] },
        revertOnResolve: true,
      }),
    ],
  },
});

describe('next: start', () => {
  it('first pass copies and renders the steps, starts and plans step 0 at once', () => {
    const d = next(observed(aRemediation()));
    expect(d.op).toEqual({ kind: 'plan', index: 0, attempt: 1 });
    expect(d.status.phase).toBe('Running');
    expect(d.status.target).toBe('Deployment/web');
    expect(d.status.progress).toBe('0/1');
    expect(d.status.steps?.[0]).toMatchObject({
      name: 'restart',
      phase: 'Pending',
      target: `Deployment/${NS}/web`,
    });
    expect((d.status.steps?.[0]?.spec as { target: unknown }).target).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'web',
      namespace: NS,
    });
    expect(d.status.runbookGeneration).toBe(1);
    expect(d.status.observedGeneration).toBe(1);
    // The start is no outcome: no Event (the Progressing condition says it; ADR 0026).
    expect(events(d)).toEqual([]);
    expect(audits(d)).toEqual(['created']);
  });

  it('spec.params override values from the alert', () => {
    const d = next(observed(aRemediation({ spec: { params: { deployment: 'api' } } })));
    expect(d.status.target).toBe('Deployment/api');
  });

  it('inline steps without a Runbook', () => {
    const rem = aRemediation({
      spec: {
        runbookRef: undefined,
        steps: [aStep()],
        target: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
      },
    });
    const d = next(observed(rem));
    expect(d.op.kind).toBe('plan');
    expect(d.status.target).toBe('Deployment/web');
  });

  it.each([
    [
      'missing param',
      aRemediation({ spec: { alert: { name: 'WebDown', labels: {} } } }),
      REASONS.missingParam,
      'Failed',
    ],
    [
      'invalid param value',
      aRemediation({ spec: { alert: { name: 'WebDown', labels: { deployment: '../x' } } } }),
      REASONS.invalid,
      'Failed',
    ],
    [
      'namespace out of scope',
      aRemediation({
        spec: {
          target: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: 'kube-system' },
        },
      }),
      REASONS.outOfScope,
      'Failed',
    ],
  ])('%s ends it before anything is sent', (_name, rem, reason, phase) => {
    const d = next(observed(rem));
    expect(d.op.kind).toBe('none');
    expect(d.status.phase).toBe(phase);
    expect(condOf(d, CONDITION_TYPES.succeeded)).toMatchObject({ status: 'False', reason });
    // Milliseconds: runs that end within one second are ordered by them (retention, loop protection).
    expect(d.status.completedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(events(d)).toContain('RemediationFailed');
  });

  it('OutOfScope also sets Blocked with the reason', () => {
    const rem = aRemediation({
      spec: { target: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: 'other' } },
    });
    expect(condOf(next(observed(rem)), CONDITION_TYPES.blocked)).toMatchObject({
      status: 'True',
      reason: REASONS.outOfScope,
    });
  });

  it('allowedNamespaces widen the scope', () => {
    const rem = aRemediation({
      spec: { target: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: 'other' } },
    });
    const d = next(
      observed(rem, { runbook: aRunbook({ spec: { safety: { allowedNamespaces: ['other'] } } }) }),
    );
    expect(d.op.kind).toBe('plan');
    expect(d.status.target).toBe('Deployment/other/web');
  });

  it('inline steps may not leave their namespace even with spec.safety.allowedNamespaces', () => {
    const rem = aRemediation({
      spec: {
        runbookRef: undefined,
        steps: [aStep()],
        safety: { allowedNamespaces: ['other'] },
        target: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: 'other' },
      },
    });
    expect(condOf(next(observed(rem)), CONDITION_TYPES.succeeded)?.reason).toBe(REASONS.outOfScope);
  });

  it('a missing Runbook waits in Pending', () => {
    const d = next(observed(aRemediation(), { runbook: undefined, runbookMissing: true }));
    expect(d.status.phase).toBe('Pending');
    expect(condOf(d, CONDITION_TYPES.progressing)).toMatchObject({
      status: 'False',
      reason: REASONS.runbookNotFound,
    });
    expect(d.requeueAfterMs).toBeGreaterThan(0);
  });

  it('an invalid Runbook waits in Pending with its problems', () => {
    const d = next(observed(aRemediation(), { runbookProblems: ['steps[0].scale: missing'] }));
    expect(d.status.phase).toBe('Pending');
    expect(condOf(d, CONDITION_TYPES.progressing)).toMatchObject({ reason: REASONS.runbookNotReady });
    expect(condOf(d, CONDITION_TYPES.progressing)?.message).toContain('steps[0].scale: missing');
  });

  it('invalid inline steps fail', () => {
    const rem = aRemediation({ spec: { runbookRef: undefined, steps: [aStep()] } });
    const d = next(observed(rem, { runbookProblems: ['steps[0].x: bad'] }));
    expect(d.status.phase).toBe('Failed');
  });

  it('a resolved alert before start skips it', () => {
    const d = next(
      observed(
        aRemediation({
          spec: { alert: { name: 'WebDown', status: 'resolved', labels: { deployment: 'web' } } },
        }),
      ),
    );
    expect(d.status.phase).toBe('Skipped');
    expect(d.op.kind).toBe('none');
  });
});

describe('next: the bounds are copied with the steps', () => {
  const inline = (bounds?: Bounds): Remediation =>
    aRemediation({
      spec: {
        runbookRef: undefined,
        steps: [aStep()],
        target: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
        ...(bounds ? { safety: { bounds } } : {}),
      },
    });
  const withBounds = (bounds?: Bounds): Runbook =>
    aRunbook({ spec: bounds ? { safety: { requireApproval: false, bounds } } : {} });

  it.each<[string, Remediation, Runbook | undefined, Bounds]>([
    ["the Runbook's", aRemediation(), withBounds({ maxReplicas: 5 }), { maxReplicas: 5 }],
    ['{} when the Runbook has none', aRemediation(), withBounds(), {}],
    [
      "the Runbook's, not the Remediation's spec.safety",
      aRemediation({ spec: { safety: { bounds: { maxReplicas: 500 } } } }),
      withBounds({ maxReplicas: 5 }),
      { maxReplicas: 5 },
    ],
    ["inline steps: the Remediation's own", inline({ maxMemory: '1Gi' }), undefined, { maxMemory: '1Gi' }],
    ['inline steps without bounds: {}', inline(), undefined, {}],
  ])('%s', (_name, rem, runbook, bounds) => {
    const d = next(observed(rem, runbook ? { runbook } : {}));
    expect(d.status.bounds).toEqual(bounds);
  });

  it('the copy is taken before approval, with the steps, and kept while waiting', () => {
    const rb = aRunbook({ spec: { safety: { requireApproval: true, bounds: { maxReplicas: 5 } } } });
    const waiting = withStatus(aRemediation(), next(observed(aRemediation(), { runbook: rb })).status);
    expect(waiting.status?.phase).toBe('AwaitingApproval');
    expect(waiting.status?.bounds).toEqual({ maxReplicas: 5 });
    const loosened = aRunbook({ spec: { safety: { requireApproval: true, bounds: { maxReplicas: 50 } } } });
    const approved = {
      ...waiting,
      metadata: { ...waiting.metadata, annotations: { [ANNOTATIONS.approvedBy]: 'ana' } },
    };
    const d = next(observed(approved, { runbook: loosened }));
    expect(d.op.kind).toBe('plan');
    expect(d.status.bounds).toEqual({ maxReplicas: 5 });
  });

  it('a Runbook deleted, then loosened mid-run: later passes keep the copy and act under it', () => {
    const twoSteps = (bounds: Bounds): Runbook =>
      aRunbook({
        spec: {
          steps: [aStep(), aStep({ name: 'patch', action: 'patch', patch: { type: 'merge', patch: {} } })],
          safety: { bounds },
        },
      });
    // What each pass sees: the Runbook at start, then nothing, then a loosened one.
    const seen: Partial<Observed>[] = [
      { runbook: twoSteps({ maxReplicas: 5 }) },
      { runbook: undefined, runbookMissing: true },
      { runbook: undefined, runbookMissing: true },
    ];
    const boundsInForce: (Bounds | undefined)[] = [];
    let pass = 0;
    const { rem: end } = drive(aRemediation(), {
      obs: (r) => {
        const o = observed(r, seen[pass++] ?? { runbook: twoSteps({ maxReplicas: 50 }) });
        // what the reconciler hands the action (ActionContext.bounds)
        boundsInForce.push(effectiveSafety(r, o.runbook)?.bounds);
        return o;
      },
    });
    expect(end.status?.phase).toBe('Succeeded');
    expect(end.status?.bounds).toEqual({ maxReplicas: 5 });
    expect(boundsInForce.length).toBeGreaterThan(seen.length);
    expect(new Set(boundsInForce.map((b) => JSON.stringify(b)))).toEqual(new Set(['{"maxReplicas":5}']));
  });
});

describe('effectiveSafety: the copied bounds win once the steps are copied', () => {
  const started = (bounds: Bounds | undefined, spec: Partial<Remediation['spec']> = {}): Remediation =>
    aRemediation({
      spec,
      status: {
        startedAt: T0.toISOString(),
        steps: [stepRec({})],
        ...(bounds ? { bounds } : {}),
      },
    });
  const rb = (safety?: Runbook['spec']['safety']): Runbook => aRunbook({ spec: safety ? { safety } : {} });
  const inlineSpec = (bounds: Bounds): Partial<Remediation['spec']> => ({
    runbookRef: undefined,
    steps: [aStep()],
    safety: { bounds },
  });

  it.each<[string, Remediation, Runbook | undefined, Bounds | undefined]>([
    [
      'no copy (started by an older version): the current bounds',
      started(undefined),
      rb({ bounds: { maxReplicas: 5 } }),
      { maxReplicas: 5 },
    ],
    ['no copy, Runbook deleted: none', started(undefined), undefined, undefined],
    ['Runbook deleted mid-run: the copy', started({ maxReplicas: 5 }), undefined, { maxReplicas: 5 }],
    [
      'Runbook loosened mid-run: the copy',
      started({ maxReplicas: 5 }),
      rb({ bounds: { maxReplicas: 50 } }),
      { maxReplicas: 5 },
    ],
    [
      'Runbook bounds removed mid-run: the copy',
      started({ maxReplicas: 5 }),
      rb({ maxPerHour: 3 }),
      { maxReplicas: 5 },
    ],
    [
      'none at start, Runbook gains some mid-run: still none',
      started({}),
      rb({ bounds: { maxReplicas: 1 } }),
      undefined,
    ],
    [
      'inline spec.safety loosened mid-run: the copy',
      started({ maxCpu: '1' }, inlineSpec({ maxCpu: '64' })),
      undefined,
      { maxCpu: '1' },
    ],
  ])('%s', (_name, rem, runbook, bounds) => {
    expect(effectiveSafety(rem, runbook)?.bounds).toEqual(bounds);
  });

  it('the other rules are still read from the current Runbook', () => {
    const safety = effectiveSafety(
      started({ maxReplicas: 5 }),
      rb({ requireApproval: true, maxConcurrent: 2 }),
    );
    expect(safety).toEqual({ requireApproval: true, maxConcurrent: 2, bounds: { maxReplicas: 5 } });
  });
});

describe('next: approval', () => {
  const rb = aRunbook({ spec: { safety: { requireApproval: true } } });

  it('waits in AwaitingApproval with one Event', () => {
    const rem = aRemediation();
    const d = next(observed(rem, { runbook: rb }));
    expect(d.status.phase).toBe('AwaitingApproval');
    expect(d.op.kind).toBe('none');
    expect(condOf(d, CONDITION_TYPES.approved)).toMatchObject({
      status: 'False',
      reason: REASONS.awaitingApproval,
    });
    expect(events(d)).toEqual(['AwaitingApproval']);
    // the steps are already copied, so an approver sees what will run
    expect(d.status.steps).toHaveLength(1);
    const again = next(observed(withStatus(rem, d.status), { runbook: rb }));
    expect(events(again)).toEqual([]);
    expect(again.status).toEqual(d.status);
  });

  it('approval records who and when, then starts', () => {
    const rem = aRemediation();
    const waiting = next(observed(rem, { runbook: rb }));
    const approved = {
      ...withStatus(rem, waiting.status),
      metadata: { ...rem.metadata, annotations: { [ANNOTATIONS.approvedBy]: 'alice' } },
    };
    const clock = new FakeClock(new Date(T0.getTime() + 60_000));
    const d = next(observed(approved, { runbook: rb, clock }));
    expect(d.status.approval).toEqual({ by: 'alice', at: '2026-01-01T00:01:00Z' });
    expect(condOf(d, CONDITION_TYPES.approved)).toMatchObject({
      status: 'True',
      reason: REASONS.approved,
      lastTransitionTime: '2026-01-01T00:01:00Z',
    });
    expect(d.status.phase).toBe('Running');
    expect(d.op.kind).toBe('plan');
    expect(events(d)).toEqual(['Approved']);
    expect(audits(d)).toContain('approved');
  });

  it('rejection ends it Skipped, nothing runs', () => {
    const rem = aRemediation({ annotations: { [ANNOTATIONS.rejectedBy]: 'bob' } });
    const d = next(observed(rem, { runbook: rb }));
    expect(d.status.phase).toBe('Skipped');
    expect(d.status.rejection?.by).toBe('bob');
    expect(condOf(d, CONDITION_TYPES.approved)).toMatchObject({ status: 'False', reason: REASONS.rejected });
    expect(d.op.kind).toBe('none');
    expect(audits(d)).toContain('rejected');
  });

  it('dry runs need no approval', () => {
    const d = next(observed(aRemediation({ spec: { dryRun: true } }), { runbook: rb }));
    expect(d.op.kind).toBe('plan');
  });
});

describe('next: budgets and lock', () => {
  it.each([
    [
      'runbook maxConcurrent',
      [aRunning({ target: 'Deployment/api' })],
      { maxConcurrent: 1 },
      20,
      REASONS.concurrencyLimit,
    ],
    [
      'cluster budget',
      [
        aRunning({ target: 'Deployment/a', runbook: 'x' }),
        aRunning({ target: 'Deployment/b', runbook: 'y' }),
      ],
      {},
      2,
      REASONS.clusterBudget,
    ],
    ['target lock', [aRunning({ target: 'Deployment/web', runbook: 'other' })], {}, 20, REASONS.targetLocked],
  ])('%s: waits in Pending with Blocked and why', (_n, peers, safety, budget, reason) => {
    const rem = aRemediation();
    const d = next(
      observed(rem, {
        peers: [rem, ...peers],
        runbook: aRunbook({ spec: { safety } }),
        config: { maxConcurrentRemediations: budget, defaultStepTimeoutMs: 120_000 },
      }),
    );
    expect(d.status.phase).toBe('Pending');
    expect(d.op.kind).toBe('none');
    expect(condOf(d, CONDITION_TYPES.blocked)).toMatchObject({ status: 'True', reason });
    expect(d.requeueAfterMs).toBe(BLOCKED_REQUEUE_MS);
    expect(events(d)).toContain('RemediationBlocked');
  });

  it('finished peers and peers on other targets do not count', () => {
    const rem = aRemediation();
    const peers = [aFinished('Succeeded'), aRunning({ target: 'Deployment/api', runbook: 'x' })];
    const d = next(observed(rem, { peers, runbook: aRunbook({ spec: { safety: { maxConcurrent: 1 } } }) }));
    expect(d.op.kind).toBe('plan');
  });

  it('the same name in another namespace is another target', () => {
    const d = next(
      observed(aRemediation(), { peers: [aRunning({ namespace: 'elsewhere', target: 'Deployment/web' })] }),
    );
    expect(d.op.kind).toBe('plan');
  });

  it('when the slot frees, Blocked flips to False and it starts', () => {
    const rem = aRemediation();
    const blocked = next(observed(rem, { peers: [aRunning({ runbook: 'other' })] }));
    const clock = new FakeClock(new Date(T0.getTime() + 10_000));
    const d = next(observed(withStatus(rem, blocked.status), { clock }));
    expect(condOf(d, CONDITION_TYPES.blocked)).toMatchObject({
      status: 'False',
      lastTransitionTime: '2026-01-01T00:00:10Z',
    });
    expect(d.op.kind).toBe('plan');
  });

  it('while running, a younger Remediation yields to an older one on the same target', () => {
    // two steps, so that there is a next step to gate
    const runbook = aRunbook({ spec: { steps: [aStep(), aStep({ name: 'second' })] } });
    const rem = aRemediation({ name: 'young', created: '2026-01-01T00:00:05Z' });
    const running = withStatus(rem, planned(observed(rem, { runbook })).status);
    const afterDone = withStatus(running, applied(observed(running, { runbook }), done()).status);
    const older = aRunning({ name: 'old', created: '2026-01-01T00:00:00Z', runbook: 'other' });
    const d = next(observed(afterDone, { runbook, peers: [older] }));
    expect(d.op.kind).toBe('none');
    expect(condOf(d, CONDITION_TYPES.blocked)).toMatchObject({
      status: 'True',
      reason: REASONS.targetLocked,
    });
    expect(d.status.phase).toBe('Running');
  });
});

describe('next: concurrent starts seen only through the in-memory starts', () => {
  /** The cache lags: it shows both Remediations as created, neither with a status. */
  const pair = () => ({
    old: aRemediation({ name: 'old', created: '2026-01-01T00:00:00Z' }),
    young: aRemediation({ name: 'young', created: '2026-01-01T00:00:01Z' }),
  });

  it.each([
    ['target lock', aRunbook(), () => ({ deployment: 'web' }), REASONS.targetLocked],
    [
      'runbook maxConcurrent',
      aRunbook({ spec: { safety: { maxConcurrent: 1 } } }),
      (n: string) => ({ deployment: n === 'old' ? 'web' : 'api' }),
      REASONS.concurrencyLimit,
    ],
  ])('two Pending, %s: the second waits', (_n, runbook, labels, reason) => {
    const { old, young } = pair();
    old.spec.alert = { name: 'WebDown', status: 'firing', labels: labels('old') };
    young.spec.alert = { name: 'WebDown', status: 'firing', labels: labels('young') };
    const cache = [old, young];
    const local = new LocalStarts();
    const obsOf = (rem: Remediation) => observed(rem, { runbook, peers: local.merge(cache, T0) });
    const first = next(obsOf(old));
    expect(first.op.kind).toBe('plan');
    local.note(old, first.status, T0);
    const second = next(obsOf(young));
    expect(second.op.kind).toBe('none');
    expect(second.status.phase).toBe('Pending');
    expect(condOf(second, CONDITION_TYPES.blocked)).toMatchObject({ status: 'True', reason });
    // once the cache shows the start, the entry gives way to it
    const cached = withStatus(old, first.status);
    expect(local.merge([cached, young], T0)).toEqual([cached, young]);
    expect(local.size).toBe(0);
  });

  it('the cluster budget counts our own starts', () => {
    const { old, young } = pair();
    young.spec.alert = { name: 'WebDown', status: 'firing', labels: { deployment: 'api' } };
    const local = new LocalStarts();
    const cfg = { maxConcurrentRemediations: 1, defaultStepTimeoutMs: 120_000 };
    const first = next(observed(old, { peers: local.merge([old, young], T0), config: cfg }));
    local.note(old, first.status, T0);
    const second = next(observed(young, { peers: local.merge([old, young], T0), config: cfg }));
    expect(condOf(second, CONDITION_TYPES.blocked)?.reason).toBe(REASONS.clusterBudget);
  });

  it('both checkpointed on a stale view: only the oldest applies step 0, the other waits', () => {
    const { old, young } = pair();
    const checkpoint = (rem: Remediation) => {
      return withStatus(rem, planned(observed(rem)).status);
    };
    const o = checkpoint(old);
    const y = checkpoint(young);
    const local = new LocalStarts();
    local.note(o, o.status!, T0);
    local.note(y, y.status!, T0);
    const later = new FakeClock(new Date(T0.getTime() + 30_000));
    const peers = local.merge([old, young], later.now());
    const dy = next(observed(y, { peers, clock: later }));
    expect(dy.op.kind).toBe('none');
    expect(dy.requeueAfterMs).toBe(BLOCKED_REQUEUE_MS);
    expect(condOf(dy, CONDITION_TYPES.blocked)).toMatchObject({
      status: 'True',
      reason: REASONS.targetLocked,
    });
    // the wait does not count against the step timeout
    expect(dy.status.steps?.[0]?.startedAt).toBe('2026-01-01T00:00:30Z');
    expect(next(observed(o, { peers, clock: later })).op).toEqual(applyOp());
  });
});

describe('next: loop protection', () => {
  const fails = (n: number) =>
    Array.from({ length: n }, (_, i) =>
      aFinished('Failed', { name: `f${i}`, completedAt: `2025-12-31T0${i}:00:00Z` }),
    );

  it('three failures in a row on the target: Blocked, final, nothing runs', () => {
    const d = next(observed(aRemediation(), { peers: fails(3) }));
    expect(d.status.phase).toBe('Blocked');
    expect(d.op.kind).toBe('none');
    expect(condOf(d, CONDITION_TYPES.blocked)).toMatchObject({
      status: 'True',
      reason: REASONS.loopProtection,
    });
    expect(condOf(d, CONDITION_TYPES.blocked)?.message).toContain(ANNOTATIONS.clearBlock);
    expect(audits(d)).toContain('blocked');
  });

  it.each([
    ['two failures', fails(2), 'Running'],
    [
      'a success after the failures',
      [...fails(3), aFinished('Succeeded', { completedAt: '2025-12-31T09:00:00Z' })],
      'Running',
    ],
    [
      'failures on another target',
      fails(3).map((r) => ({ ...r, status: { ...r.status, target: 'Deployment/api' } })),
      'Running',
    ],
  ])('%s: runs', (_n, peers, phase) => {
    expect(next(observed(aRemediation(), { peers })).status.phase).toBe(phase);
  });

  it('maxConsecutiveFailures sets N', () => {
    const rb = aRunbook({ spec: { safety: { maxConsecutiveFailures: 2 } } });
    expect(next(observed(aRemediation(), { peers: fails(2), runbook: rb })).status.phase).toBe('Blocked');
  });

  it('blocked Remediations do not break the chain', () => {
    const blocked = aRemediation({
      status: {
        phase: 'Blocked',
        target: 'Deployment/web',
        completedAt: '2025-12-31T09:00:00Z',
        conditions: [cond(CONDITION_TYPES.succeeded, 'False', REASONS.loopProtection)],
      },
    });
    expect(next(observed(aRemediation(), { peers: [...fails(3), blocked] })).status.phase).toBe('Blocked');
  });

  it.each([
    ['the target, stamped after the failures', 'Deployment/shop/web@2025-12-31T05:00:00Z', 'Running'],
    ['every target', '*@2025-12-31T05:00:00Z', 'Running'],
    ['not yet stamped', 'Deployment/shop/web', 'Running'],
    ['another target', 'Deployment/shop/api', 'Blocked'],
    ['stamped before all the failures', 'Deployment/shop/web@2025-12-30T00:00:00Z', 'Blocked'],
    ['stamped between: two failures left', 'Deployment/shop/web@2025-12-31T00:30:00Z', 'Running'],
  ])('clear-block annotation on the Runbook: %s', (_n, value, phase) => {
    const rb = aRunbook({ annotations: { [ANNOTATIONS.clearBlock]: value } });
    expect(next(observed(aRemediation(), { peers: fails(3), runbook: rb })).status.phase).toBe(phase);
  });

  it('dry runs are never blocked', () => {
    expect(next(observed(aRemediation({ spec: { dryRun: true } }), { peers: fails(3) })).op.kind).toBe(
      'plan',
    );
  });
});

describe('next: steps', () => {
  it('runs plan → checkpoint → apply for each step, then Succeeded', () => {
    const rem = aRemediation();
    const { rem: end, ops, decisions } = drive(rem, { obs: (r) => observed(r, { runbook: threeSteps }) });
    expect(ops).toEqual(['plan 0#1', 'apply 0', 'plan 1#1', 'apply 1', 'plan 2#1', 'apply 2']);
    expect(end.status?.phase).toBe('Succeeded');
    expect(end.status?.progress).toBe('3/3');
    expect(end.status?.steps?.map((s) => s.phase)).toEqual(['Succeeded', 'Succeeded', 'Succeeded']);
    expect(end.status?.steps?.[1]).toMatchObject({ attempt: 1, before: { n: 1 }, after: { n: 2 } });
    expect(condOf(decisions.at(-1)!, CONDITION_TYPES.succeeded)).toMatchObject({
      status: 'True',
      reason: REASONS.allStepsSucceeded,
    });
    expect(condOf(decisions.at(-1)!, CONDITION_TYPES.progressing)).toMatchObject({ status: 'False' });
    // One Event for the whole run, at its end, telling what each step did (ADR 0026).
    expect(decisions.flatMap(eventLines)).toEqual([
      'RemediationSucceeded: all 3 steps succeeded: restart (rolloutRestart): ok; scale-up (scale): ok; env (setEnv): ok',
    ]);
  });

  it('the checkpoint is written before apply: Running, attempt, startedAt, before/after', () => {
    const rem = aRemediation();
    const cp = planned(observed(rem), { before: { restartedAt: null }, after: { restartedAt: 'x' } });
    expect(cp.status.steps?.[0]).toMatchObject({
      phase: 'Running',
      attempt: 1,
      startedAt: '2026-01-01T00:00:00Z',
      before: { restartedAt: null },
      after: { restartedAt: 'x' },
    });
    // a crash here and a fresh pass: apply, never plan again
    expect(next(observed(withStatus(rem, cp.status))).op).toEqual(applyOp());
  });

  it('inProgress keeps the step Running and requeues', () => {
    const rem = aRemediation();
    const cp = withStatus(rem, planned(observed(rem)).status);
    const d = applied(observed(cp), { kind: 'inProgress', message: '1/3 ready', requeueAfterMs: 2000 });
    expect(d.status.steps?.[0]).toMatchObject({ phase: 'Running', message: '1/3 ready' });
    expect(d.requeueAfterMs).toBe(2000);
  });

  it('timeout from startedAt fails with the stuck reason', () => {
    const clock = new FakeClock(T0);
    const rb = aRunbook({
      spec: {
        steps: [
          aStep({
            name: 'wait',
            action: 'waitForRollout',
            rolloutRestart: undefined,
            waitForRollout: {},
            timeout: '1m',
          }),
        ],
      },
    });
    const { rem: end, ops } = drive(aRemediation(), {
      clock,
      obs: (r) => observed(r, { runbook: rb, clock }),
      outcome: () => ({
        kind: 'inProgress',
        message: '0/3 ready: web-1 CrashLoopBackOff',
        requeueAfterMs: 20_000,
      }),
    });
    expect(ops.filter((o) => o === 'apply 0').length).toBe(3);
    expect(end.status?.phase).toBe('Failed');
    expect(end.status?.steps?.[0]?.message).toContain(
      'timed out after 1m: 0/3 ready: web-1 CrashLoopBackOff',
    );
    expect(findCondition(end.status?.conditions, CONDITION_TYPES.succeeded)?.message).toContain(
      'CrashLoopBackOff',
    );
  });

  it('default step timeout from config', () => {
    const rem = aRemediation();
    const obs = observed(rem);
    const cp = withStatus(rem, planned(obs, {}).status);
    const late = new FakeClock(new Date(T0.getTime() + 120_000));
    const d = next(observed(cp, { clock: late }));
    expect(d.status.phase).toBe('Failed');
    expect(d.status.steps?.[0]?.message).toContain('timed out after 2m');
  });

  it('retries with exponential backoff (nextAttemptAt), then fails with the reason', () => {
    const clock = new FakeClock(T0);
    const rb = aRunbook({ spec: { steps: [aStep({ retries: 2 })] } });
    const {
      rem: end,
      ops,
      decisions,
    } = drive(aRemediation(), {
      clock,
      obs: (r) => observed(r, { runbook: rb, clock }),
      outcome: () => failed(true, 'Conflict'),
    });
    expect(ops).toEqual(['plan 0#1', 'apply 0', 'plan 0#2', 'apply 0', 'plan 0#3', 'apply 0']);
    const retries = decisions.filter((d) => d.status.steps?.[0]?.nextAttemptAt);
    expect(retries.map((d) => d.requeueAfterMs)).toEqual([STEP_RETRY_BASE_MS, STEP_RETRY_BASE_MS * 2]);
    expect(end.status?.phase).toBe('Failed');
    expect(end.status?.steps?.[0]).toMatchObject({ phase: 'Failed', attempt: 3 });
    expect(end.status?.steps?.[0]?.nextAttemptAt).toBeUndefined();
    expect(findCondition(end.status?.conditions, CONDITION_TYPES.succeeded)).toMatchObject({
      status: 'False',
      reason: 'Conflict',
    });
  });

  it('a retry is not due before nextAttemptAt', () => {
    const rem = aRemediation({
      status: {
        phase: 'Running',
        startedAt: '2026-01-01T00:00:00Z',
        steps: [stepRec({ phase: 'Pending', attempt: 1, nextAttemptAt: '2026-01-01T00:00:05Z' })],
      },
    });
    const d = next(observed(rem));
    expect(d.op.kind).toBe('none');
    expect(d.requeueAfterMs).toBe(5000);
  });

  it('non-retryable failures fail at once', () => {
    const rb = aRunbook({ spec: { steps: [aStep({ retries: 3 })] } });
    const { rem: end, ops } = drive(aRemediation(), {
      obs: (r) => observed(r, { runbook: rb }),
      outcome: () => failed(false),
    });
    expect(ops).toEqual(['plan 0#1', 'apply 0']);
    expect(end.status?.phase).toBe('Failed');
  });

  it('continueOnFailure goes on with the next step', () => {
    const rb = aRunbook({
      spec: { steps: [aStep({ name: 'a', continueOnFailure: true }), aStep({ name: 'b' })] },
    });
    const { rem: end } = drive(aRemediation(), {
      obs: (r) => observed(r, { runbook: rb }),
      outcome: (i) => (i === 0 ? failed(false) : done()),
    });
    expect(end.status?.steps?.map((s) => s.phase)).toEqual(['Failed', 'Succeeded']);
    expect(end.status?.phase).toBe('Succeeded');
    expect(end.status?.progress).toBe('2/2');
  });

  it('a bound refused at plan: Failed with the reason, apply never called', () => {
    const { rem: end, ops } = drive(aRemediation(), {
      plan: () => ({
        refused: {
          code: 'KR_ERR_BOUND_EXCEEDED',
          reason: REASONS.boundExceeded,
          message: 'replicas 50 exceeds maxReplicas 10',
        },
      }),
    });
    expect(ops).toEqual(['plan 0#1']);
    expect(end.status?.phase).toBe('Failed');
    expect(findCondition(end.status?.conditions, CONDITION_TYPES.succeeded)).toMatchObject({
      reason: REASONS.boundExceeded,
    });
    expect(findCondition(end.status?.conditions, CONDITION_TYPES.succeeded)?.message).toContain(
      'maxReplicas 10',
    );
  });

  it('a plan error (not the API being down) counts as a failed attempt', () => {
    const rem = aRemediation();
    const d = next(observed(rem), {
      op: planOp(),
      result: {
        error: { reason: REASONS.stepFailed, message: 'deployments "web" not found', retryable: false },
      },
    });
    expect(d.status.phase).toBe('Failed');
  });
});

describe('next: dry run', () => {
  it('records diffs and ends in DryRun', () => {
    const rem = aRemediation({ spec: { dryRun: true } });
    const { rem: end, decisions } = drive(rem, {
      obs: (r) => observed(r, { runbook: threeSteps }),
      outcome: (i) => done('would change', { diff: { step: i } }),
    });
    expect(end.status?.phase).toBe('DryRun');
    expect(end.status?.steps?.map((s) => s.phase)).toEqual(['DryRun', 'DryRun', 'DryRun']);
    expect(end.status?.steps?.[2]?.diff).toEqual({ step: 2 });
    expect(decisions.flatMap(events)).toContain('DryRun');
    // no Events on the target
    expect(decisions.flatMap((d) => d.notes).some((n) => n.kind === 'event' && n.target)).toBe(false);
  });

  it.each([
    ['a real run flipped to dry run', false, 'Succeeded', 'Succeeded'],
    ['a dry run flipped to real', true, 'DryRun', 'DryRun'],
  ])('%s after the start: the flip is ignored', (_n, dryRun, stepPhase, phase) => {
    const rem = aRemediation({ spec: { dryRun } });
    const { rem: end } = drive(rem, {
      obs: (r) =>
        observed(r.status?.startedAt ? { ...r, spec: { ...r.spec, dryRun: !dryRun } } : r, {
          runbook: threeSteps,
        }),
    });
    expect(end.status?.dryRun).toBe(dryRun);
    expect(end.status?.steps?.map((x) => x.phase)).toEqual([stepPhase, stepPhase, stepPhase]);
    expect(end.status?.phase).toBe(phase);
  });

  it('a dry run flipped to real mid-run does not take the lock or the budget', () => {
    const rem = aRemediation({ spec: { dryRun: true } });
    const started = withStatus(rem, next(observed(rem)).status);
    const flipped = { ...started, spec: { ...started.spec, dryRun: false } };
    const d = next(observed(flipped, { peers: [aRunning({ runbook: 'other' })] }));
    expect(d.op.kind).toBe('plan');
    expect(condOf(d, CONDITION_TYPES.blocked)).toBeUndefined();
  });

  it('a real run flipped to dry run is still reverted', () => {
    const s = drive(aRemediation(), { obs: (r) => observed(r, { runbook: threeSteps }) }).rem;
    const flipped = {
      ...s,
      spec: { ...s.spec, dryRun: true },
      metadata: { ...s.metadata, annotations: { [ANNOTATIONS.revert]: 'true' } },
    };
    const { ops } = drive(flipped, { obs: (r) => observed(r, { runbook: threeSteps }) });
    expect(ops).toEqual(['revert 2', 'revert 1']);
  });

  it('a dry run is not reverted', () => {
    const rem = aRemediation({ spec: { dryRun: true }, annotations: { [ANNOTATIONS.revert]: 'true' } });
    // the annotation before start skips it
    expect(next(observed(rem, { runbook: threeSteps })).status.phase).toBe('Skipped');
  });
});

describe('next: revert', () => {
  function succeeded(): Remediation {
    return drive(aRemediation(), { obs: (r) => observed(r, { runbook: threeSteps }) }).rem;
  }

  it('on annotation: reverts revertOnResolve steps in reverse order, each checkpointed', () => {
    const s = succeeded();
    const annotated = { ...s, metadata: { ...s.metadata, annotations: { [ANNOTATIONS.revert]: 'true' } } };
    const {
      rem: end,
      ops,
      decisions,
    } = drive(annotated, { obs: (r) => observed(r, { runbook: threeSteps }) });
    expect(ops).toEqual(['revert 2', 'revert 1']);
    expect(end.status?.phase).toBe('Reverted');
    expect(end.status?.steps?.map((x) => x.phase)).toEqual(['Succeeded', 'Reverted', 'Reverted']);
    expect(end.status?.steps?.[1]?.revertedAt).toBeDefined();
    expect(end.status?.revertRequestedAt).toBeDefined();
    // each revert was checkpointed (Reverting) in a pass of its own before revert() ran
    const phases = decisions.map((d) => d.status.steps?.map((x) => x.phase).join(','));
    expect(phases).toContain('Succeeded,Succeeded,Reverting');
    expect(phases).toContain('Succeeded,Reverting,Reverted');
    expect(decisions.map((d) => d.status.phase)).toContain('Reverting');
    expect(findCondition(end.status?.conditions, CONDITION_TYPES.reverted)).toMatchObject({
      status: 'True',
      reason: REASONS.revertSucceeded,
    });
    expect(findCondition(end.status?.conditions, CONDITION_TYPES.succeeded)?.status).toBe('True');
  });

  it('on a resolved alert', () => {
    const s = succeeded();
    const resolved = { ...s, spec: { ...s.spec, alert: { ...s.spec.alert!, status: 'resolved' as const } } };
    expect(drive(resolved, { obs: (r) => observed(r, { runbook: threeSteps }) }).ops).toEqual([
      'revert 2',
      'revert 1',
    ]);
  });

  it('requested while running: after the forward steps are done', () => {
    const rem = aRemediation();
    let n = 0;
    const { ops, rem: end } = drive(rem, {
      obs: (r) => {
        n++;
        // the alert resolves after the first pass
        const rr =
          n > 1 ? { ...r, metadata: { ...r.metadata, annotations: { [ANNOTATIONS.revert]: 'true' } } } : r;
        return observed(rr, { runbook: threeSteps });
      },
    });
    expect(ops).toEqual([
      'plan 0#1',
      'apply 0',
      'plan 1#1',
      'apply 1',
      'plan 2#1',
      'apply 2',
      'revert 2',
      'revert 1',
    ]);
    expect(end.status?.phase).toBe('Reverted');
  });

  it('a crash after the Reverting checkpoint resumes with revert()', () => {
    const s = succeeded();
    const annotated = { ...s, metadata: { ...s.metadata, annotations: { [ANNOTATIONS.revert]: 'true' } } };
    const cp = next(observed(annotated, { runbook: threeSteps }));
    expect(cp.op.kind).toBe('none');
    expect(cp.status.steps?.[2]?.phase).toBe('Reverting');
    expect(next(observed(withStatus(annotated, cp.status), { runbook: threeSteps })).op).toEqual(revertOp(2));
  });

  it('nothing to revert: stays Succeeded', () => {
    const s = drive(aRemediation()).rem; // restart only, not reversible
    const annotated = { ...s, metadata: { ...s.metadata, annotations: { [ANNOTATIONS.revert]: 'true' } } };
    const d = next(observed(annotated));
    expect(d.status.phase).toBe('Succeeded');
    expect(d.op.kind).toBe('none');
  });

  it('a failed revert ends Failed with RevertFailed', () => {
    const s = succeeded();
    const annotated = { ...s, metadata: { ...s.metadata, annotations: { [ANNOTATIONS.revert]: 'true' } } };
    const { rem: end } = drive(annotated, {
      obs: (r) => observed(r, { runbook: threeSteps }),
      revert: () => failed(false),
    });
    expect(end.status?.phase).toBe('Failed');
    expect(findCondition(end.status?.conditions, CONDITION_TYPES.reverted)).toMatchObject({
      status: 'False',
      reason: REASONS.revertFailed,
    });
  });

  it('a retryable revert failure is retried with the step backoff, then succeeds', () => {
    const s = succeeded();
    const clock = new FakeClock(new Date(T0.getTime() + 60_000));
    const annotated = { ...s, metadata: { ...s.metadata, annotations: { [ANNOTATIONS.revert]: 'true' } } };
    let n = 0;
    const {
      rem: end,
      ops,
      decisions,
    } = drive(annotated, {
      clock,
      obs: (r) => observed(r, { runbook: threeSteps, clock }),
      revert: (i) => (i === 2 && ++n <= 2 ? failed(true) : done('restored')),
    });
    expect(ops).toEqual(['revert 2', 'revert 2', 'revert 2', 'revert 1']);
    const retries = decisions.filter((d) => d.status.steps?.[2]?.nextAttemptAt);
    expect(retries.map((d) => d.requeueAfterMs)).toEqual([STEP_RETRY_BASE_MS, STEP_RETRY_BASE_MS * 2]);
    expect(retries.map((d) => d.status.phase)).toEqual(['Reverting', 'Reverting']);
    expect(end.status?.phase).toBe('Reverted');
    expect(end.status?.steps?.[2]).toMatchObject({ phase: 'Reverted', revertAttempt: 3 });
    expect(end.status?.steps?.[2]?.nextAttemptAt).toBeUndefined();
  });

  it('a retryable revert failure ends RevertFailed after the bound', () => {
    const s = succeeded();
    const clock = new FakeClock(new Date(T0.getTime() + 60_000));
    const annotated = { ...s, metadata: { ...s.metadata, annotations: { [ANNOTATIONS.revert]: 'true' } } };
    const { rem: end, ops } = drive(annotated, {
      clock,
      obs: (r) => observed(r, { runbook: threeSteps, clock }),
      revert: () => failed(true),
    });
    expect(ops).toEqual(Array.from({ length: REVERT_MAX_ATTEMPTS }, () => 'revert 2'));
    expect(end.status?.phase).toBe('Failed');
    expect(end.status?.steps?.[2]).toMatchObject({ phase: 'Succeeded', revertAttempt: REVERT_MAX_ATTEMPTS });
    expect(end.status?.steps?.[2]?.message).toContain(`failed after ${REVERT_MAX_ATTEMPTS} attempts`);
    expect(findCondition(end.status?.conditions, CONDITION_TYPES.reverted)).toMatchObject({
      status: 'False',
      reason: REASONS.revertFailed,
    });
  });

  it('a revert retry is not due before nextAttemptAt', () => {
    const s = succeeded();
    const annotated = { ...s, metadata: { ...s.metadata, annotations: { [ANNOTATIONS.revert]: 'true' } } };
    const cp = withStatus(annotated, next(observed(annotated, { runbook: threeSteps })).status);
    const d = reverted(observed(cp, { runbook: threeSteps }), failed(true), 2);
    const again = next(observed(withStatus(cp, d.status), { runbook: threeSteps }));
    expect(again.op.kind).toBe('none');
    expect(again.requeueAfterMs).toBe(STEP_RETRY_BASE_MS);
  });

  it('onFailure.revert undoes every reversible done step after a failure', () => {
    const rb = aRunbook({
      spec: {
        onFailure: { revert: true },
        steps: [
          aStep({ name: 'scale', action: 'scale', rolloutRestart: undefined, scale: { replicas: 3 } }),
          aStep({
            name: 'env',
            action: 'setEnv',
            rolloutRestart: undefined,
            setEnv: { env: [{ name: 'A', value: '1' }] },
          }),
          aStep({ name: 'restart' }),
        ],
      },
    });
    const { rem: end, ops } = drive(aRemediation(), {
      obs: (r) => observed(r, { runbook: rb }),
      outcome: (i) => (i === 2 ? failed(false) : done()),
    });
    expect(ops).toEqual([
      'plan 0#1',
      'apply 0',
      'plan 1#1',
      'apply 1',
      'plan 2#1',
      'apply 2',
      'revert 1',
      'revert 0',
    ]);
    expect(end.status?.phase).toBe('Reverted');
    expect(findCondition(end.status?.conditions, CONDITION_TYPES.succeeded)?.status).toBe('False');
  });
});

describe('next: the revert kind is fixed when the revert starts', () => {
  const steps = [
    aStep({ name: 'scale', action: 'scale', rolloutRestart: undefined, scale: { replicas: 3 } }),
    aStep({
      name: 'env',
      action: 'setEnv',
      rolloutRestart: undefined,
      setEnv: { env: [{ name: 'A', value: '1' }] },
    }),
    aStep({ name: 'restart' }),
  ];
  const rb = aRunbook({ spec: { onFailure: { revert: true }, steps } });

  it.each([
    ['deleted', undefined],
    ['edited to onFailure.revert=false', aRunbook({ spec: { onFailure: { revert: false }, steps } })],
  ])('the Runbook %s mid-revert: every reversible step is still undone', (_n, later) => {
    const { rem: end, ops } = drive(aRemediation(), {
      obs: (r) => {
        const reverting = r.status?.steps?.some((x) => x.phase === 'Reverting' || x.phase === 'Reverted');
        return observed(r, reverting ? { runbook: later, runbookMissing: !later } : { runbook: rb });
      },
      outcome: (i) => (i === 2 ? failed(false) : done()),
    });
    expect(ops.slice(-2)).toEqual(['revert 1', 'revert 0']);
    expect(end.status?.revertMode).toBe('onFailure');
    expect(end.status?.phase).toBe('Reverted');
    expect(findCondition(end.status?.conditions, CONDITION_TYPES.reverted)?.message).toBe('reverted 2 steps');
  });

  it('a revert request records onResolve', () => {
    const s = drive(aRemediation(), { obs: (r) => observed(r, { runbook: threeSteps }) }).rem;
    const annotated = { ...s, metadata: { ...s.metadata, annotations: { [ANNOTATIONS.revert]: 'true' } } };
    const d = next(observed(annotated, { runbook: threeSteps }));
    expect(d.status.revertMode).toBe('onResolve');
  });
});

describe('next: a failed attempt may have landed', () => {
  const envStep = aStep({
    name: 'env',
    action: 'setEnv',
    rolloutRestart: undefined,
    setEnv: { env: [{ name: 'A', value: '1' }] },
    revertOnResolve: true,
  });

  it('a retry keeps the before of the first attempt', () => {
    const clock = new FakeClock(T0);
    const rb = aRunbook({ spec: { steps: [{ ...envStep, retries: 2 }] } });
    let plans = 0;
    const { rem: end } = drive(aRemediation(), {
      clock,
      obs: (r) => observed(r, { runbook: rb, clock }),
      // the first attempt landed: the second plan reads the changed value
      plan: () =>
        ++plans === 1
          ? { before: { A: null }, after: { A: '1' } }
          : { before: { A: '1' }, after: { A: '1' } },
      outcome: (_i, n) => (n === 1 ? failed(true) : done('ok', { before: { A: '1' } })),
    });
    expect(plans).toBe(2);
    expect(end.status?.steps?.[0]).toMatchObject({ phase: 'Succeeded', attempt: 2, before: { A: null } });
  });

  it.each([
    ['on resolve', aRunbook({ spec: { steps: [envStep] } }), true],
    ['onFailure.revert', aRunbook({ spec: { onFailure: { revert: true }, steps: [envStep] } }), false],
  ])('a Failed reversible step with a before is reverted %s', (_n, rb, annotate) => {
    const failedRun = drive(aRemediation(), {
      obs: (r) => observed(r, { runbook: rb }),
      outcome: () => failed(false),
    });
    const rem = annotate
      ? {
          ...failedRun.rem,
          metadata: { ...failedRun.rem.metadata, annotations: { [ANNOTATIONS.revert]: 'true' } },
        }
      : failedRun.rem;
    const { rem: end, ops } = drive(rem, { obs: (r) => observed(r, { runbook: rb }) });
    expect([...failedRun.ops, ...ops]).toEqual(['plan 0#1', 'apply 0', 'revert 0']);
    expect(end.status?.phase).toBe('Reverted');
    expect(end.status?.steps?.[0]).toMatchObject({ phase: 'Reverted', revertedFrom: 'Failed' });
  });

  it('a Failed step without a before (refused at plan) is not reverted', () => {
    const rb = aRunbook({ spec: { onFailure: { revert: true }, steps: [envStep] } });
    const { rem: end, ops } = drive(aRemediation(), {
      obs: (r) => observed(r, { runbook: rb }),
      plan: () => ({
        refused: { code: 'KR_ERR_BOUND_EXCEEDED', reason: REASONS.boundExceeded, message: 'no' },
      }),
    });
    expect(ops).toEqual(['plan 0#1']);
    expect(end.status?.phase).toBe('Failed');
  });

  it('a failed revert of a Failed step leaves it Failed', () => {
    const rb = aRunbook({ spec: { steps: [envStep] } });
    const f = drive(aRemediation(), {
      obs: (r) => observed(r, { runbook: rb }),
      outcome: () => failed(false),
    });
    const annotated = {
      ...f.rem,
      metadata: { ...f.rem.metadata, annotations: { [ANNOTATIONS.revert]: 'true' } },
    };
    const { rem: end } = drive(annotated, {
      obs: (r) => observed(r, { runbook: rb }),
      revert: () => failed(false),
    });
    expect(end.status?.steps?.[0]?.phase).toBe('Failed');
    expect(findCondition(end.status?.conditions, CONDITION_TYPES.reverted)?.reason).toBe(
      REASONS.revertFailed,
    );
  });
});

describe('next: level-based', () => {
  it('a final Remediation decides nothing and writes nothing new', () => {
    const s = drive(aRemediation()).rem;
    const d = next(observed(s, { now: new Date(T0.getTime() + 3_600_000) }));
    expect(d.op.kind).toBe('none');
    expect(d.status).toEqual(s.status);
    expect(d.notes).toEqual([]);
  });

  it('observedGeneration follows metadata.generation', () => {
    const d = next(observed(aRemediation({ generation: 4 })));
    expect(d.status.observedGeneration).toBe(4);
  });
});

describe('next: layered changes revert newest first', () => {
  const degrade = aReversibleStep({
    name: 'degrade',
    action: 'setEnv',
    setEnv: { env: [{ name: 'DEGRADED', value: 'true' }] },
  });
  const rb = aRunbook({ spec: { steps: [degrade] } });
  const absentToTrue: Plan = {
    before: { containers: { app: { DEGRADED: { absent: true } } } },
    after: { containers: { app: { DEGRADED: { value: 'true' } } } },
  };
  const trueToTrue: Plan = {
    before: { containers: { app: { DEGRADED: { value: 'true' } } } },
    after: { containers: { app: { DEGRADED: { value: 'true' } } } },
  };
  const run = (name: string, plan: Plan, peers: Remediation[] = [], runbook = rb): Remediation =>
    drive(aRemediation({ name }), { obs: (r) => observed(r, { runbook, peers }), plan: () => plan }).rem;
  const resolve = (r: Remediation): Remediation => ({
    ...r,
    spec: { ...r.spec, alert: { ...r.spec.alert!, status: 'resolved' } },
  });
  const revert = (r: Remediation, peers: Remediation[]) =>
    drive(resolve(r), { obs: (x) => observed(x, { runbook: rb, peers }) });

  it('a step records the changes of others still in place on the same fields', () => {
    const r1 = run('r1', absentToTrue);
    expect(r1.status?.steps?.[0]?.layeredOn).toBeUndefined();
    const r2 = run('r2', trueToTrue, [r1]);
    expect(r2.status?.steps?.[0]?.layeredOn).toEqual([
      { remediation: `${NS}/r1`, uid: 'uid-r1', step: 'degrade' },
    ]);
  });

  it('the older revert waits for the newer one, then goes on', () => {
    const r1 = run('r1', absentToTrue);
    const r2 = run('r2', trueToTrue, [r1]);
    // r1's alert resolves first: its revert is held, nothing is sent, it keeps no lock
    const held = revert(r1, [r2]);
    expect(held.ops).toEqual([]);
    expect(held.rem.status?.phase).toBe('Succeeded');
    expect(findCondition(held.rem.status?.conditions, CONDITION_TYPES.blocked)).toMatchObject({
      status: 'True',
      reason: REASONS.revertHeld,
    });
    expect(held.rem.status?.message).toContain(`${NS}/r2`);
    // The condition says it; no Event (ADR 0026): the revert's one Event, later, says it was held.
    expect(held.decisions.flatMap(events)).toEqual([]);
    expect(held.decisions.at(-1)?.requeueAfterMs).toBe(BLOCKED_REQUEUE_MS);
    // r2's resolves: it reverts at once (r1, held, is not active and holds no lock)
    const r2done = revert(r2, [held.rem]);
    expect(r2done.ops).toEqual(['revert 0']);
    expect(r2done.rem.status?.phase).toBe('Reverted');
    // now r1 goes on
    const r1done = revert(held.rem, [r2done.rem]);
    expect(r1done.ops).toEqual(['revert 0']);
    expect(r1done.rem.status?.phase).toBe('Reverted');
    expect(findCondition(r1done.rem.status?.conditions, CONDITION_TYPES.blocked)?.status).toBe('False');
  });

  it('held by a newer revert under way: nothing is written, and the chain unwinds newest first', () => {
    const r1 = run('r1', absentToTrue);
    const r2 = run('r2', trueToTrue, [r1]);
    const r3 = run('r3', trueToTrue, [r1, r2]);
    // The three alerts resolve together (a storm ends): r3 reverts; r2 waits for r3, r1 for
    // r2 (or r3), each a hold that clears by itself, so no RevertHeld and no write at all.
    const [q1, q2, q3] = [r1, r2, r3].map(resolve) as [Remediation, Remediation, Remediation];
    for (const [me, peers] of [
      [q1, [q2, q3]],
      [q2, [q1, q3]],
    ] as const) {
      const d = next(observed(me, { runbook: rb, peers: [...peers] }));
      expect(d.op.kind).toBe('none');
      expect(d.status).toEqual(me.status);
      expect(d.notes).toEqual([]);
      expect(d.requeueAfterMs).toBe(BLOCKED_REQUEUE_MS);
    }
    expect(revert(r3, [q1, q2]).ops).toEqual(['revert 0']);
    const d3 = revert(r3, [q1, q2]).rem;
    const d2 = revert(r2, [q1, d3]);
    expect(d2.ops).toEqual(['revert 0']);
    expect(findCondition(d2.rem.status?.conditions, CONDITION_TYPES.blocked)).toBeUndefined();
    const d1 = revert(r1, [d2.rem, d3]);
    expect(d1.ops).toEqual(['revert 0']);
    expect(d1.rem.status?.phase).toBe('Reverted');
  });

  it('held by a chain that does not unwind by itself: RevertHeld says so', () => {
    const r1 = run('r1', absentToTrue);
    const r2 = run('r2', trueToTrue, [r1]);
    const r3 = run('r3', trueToTrue, [r1, r2]);
    const heldBy = (me: Remediation, peers: Remediation[]) =>
      findCondition(
        next(observed(resolve(me), { runbook: rb, peers })).status.conditions,
        CONDITION_TYPES.blocked,
      );
    // r3's alert still fires: r2 and r1 wait for a person (or r3's alert), and say so.
    expect(heldBy(r2, [r1, r3])).toMatchObject({ status: 'True', reason: REASONS.revertHeld });
    expect(heldBy(r1, [resolve(r2), r3])).toMatchObject({ status: 'True', reason: REASONS.revertHeld });
    // r3's revert waits for its gate, or for the target's lock: not under way.
    const resolvedWith = (r: Remediation, c: ReturnType<typeof cond>) =>
      withStatus(resolve(r), { ...r.status, conditions: [...(r.status?.conditions ?? []), c] });
    const gated = resolvedWith(r3, cond(CONDITION_TYPES.reverted, 'Unknown', REASONS.awaitingRevertGate));
    expect(heldBy(r2, [r1, gated])).toMatchObject({ status: 'True', reason: REASONS.revertHeld });
    const locked = resolvedWith(r3, cond(CONDITION_TYPES.blocked, 'True', REASONS.targetLocked));
    expect(heldBy(r2, [r1, locked])).toMatchObject({ status: 'True', reason: REASONS.revertHeld });
    // r3 waits for a person's approval (an onResolve.before step's), or its run is not over
    // (a later step awaits approval): neither ends by itself.
    const awaiting = resolvedWith(r3, cond(CONDITION_TYPES.approved, 'False', REASONS.awaitingApproval));
    expect(heldBy(r2, [r1, awaiting])).toMatchObject({ status: 'True', reason: REASONS.revertHeld });
    const running = withStatus(resolve(r3), {
      ...r3.status,
      conditions: (r3.status?.conditions ?? []).filter((c) => c.type !== CONDITION_TYPES.succeeded),
    });
    expect(heldBy(r2, [r1, running])).toMatchObject({ status: 'True', reason: REASONS.revertHeld });
    // r2 already shows RevertHeld (written while r3 still fired): r1, below it, shows it too.
    const r2held = resolvedWith(r2, cond(CONDITION_TYPES.blocked, 'True', REASONS.revertHeld));
    expect(heldBy(r1, [r2held, resolve(r3)])).toMatchObject({ status: 'True', reason: REASONS.revertHeld });
  });

  it('a newer revert that failed (final) holds nothing: the older goes on, compare-and-swap', () => {
    const r1 = run('r1', absentToTrue);
    const r2 = run('r2', trueToTrue, [r1]);
    const held = revert(r1, [r2]);
    expect(held.ops).toEqual([]);
    // r2's revert fails for good (e.g. ChangedSince): Reverted=False, its change still recorded in place
    const r2failed = drive(resolve(r2), {
      obs: (x) => observed(x, { runbook: rb, peers: [held.rem] }),
      revert: () => failed(false),
    }).rem;
    expect(findCondition(r2failed.status?.conditions, CONDITION_TYPES.reverted)?.reason).toBe(
      REASONS.revertFailed,
    );
    expect(r2failed.status?.steps?.[0]?.phase).toBe('Succeeded');
    const r1done = revert(held.rem, [r2failed]);
    expect(r1done.ops).toEqual(['revert 0']);
    expect(findCondition(r1done.rem.status?.conditions, CONDITION_TYPES.blocked)).toMatchObject({
      status: 'False',
      reason: REASONS.revertHeld,
      message: expect.stringMatching(new RegExp(`revert of remediation ${NS}/r2 \\(step degrade\\) failed`)),
    });
  });

  it('the newer revert never waits for the older one', () => {
    const r1 = run('r1', absentToTrue);
    const r2 = run('r2', trueToTrue, [r1]);
    expect(revert(r2, [r1]).ops).toEqual(['revert 0']);
  });

  it('a newer change to other fields, a dry run or a deleted Remediation hold nothing', () => {
    const r1 = run('r1', absentToTrue);
    const other = run(
      'other',
      {
        before: { containers: { app: { OTHER: { absent: true } } } },
        after: { containers: { app: { OTHER: { value: '1' } } } },
      },
      [r1],
    );
    expect(other.status?.steps?.[0]?.layeredOn).toBeUndefined();
    const dry = drive(aRemediation({ name: 'dry', spec: { dryRun: true } }), {
      obs: (r) => observed(r, { runbook: rb, peers: [r1] }),
      plan: () => trueToTrue,
    }).rem;
    expect(dry.status?.steps?.[0]?.layeredOn).toBeUndefined();
    expect(revert(r1, [other, dry]).ops).toEqual(['revert 0']);
    // r2 layered on r1, then deleted: gone from the cache, it holds nothing
    expect(revert(r1, []).ops).toEqual(['revert 0']);
  });

  it('a Remediation created again under the older name is not held by the old layering', () => {
    const r1 = run('r1', absentToTrue);
    const r2 = run('r2', trueToTrue, [r1]);
    const again = { ...r1, metadata: { ...r1.metadata, uid: 'uid-r1-again' } };
    expect(revert(again, [r2]).ops).toEqual(['revert 0']);
  });

  it('never layered both ways: a retry keeps its layers, a new one skips those above it', () => {
    const r1 = run('r1', absentToTrue);
    const r2 = run('r2', trueToTrue, [r1]);
    // r1 plans again on the same fields (a second step, or a retry that lost its record):
    // r2 is layered on r1, so r1 does not record r2, and r2's revert never waits for r1.
    const again = run('r1', trueToTrue, [r2]);
    expect(again.status?.steps?.[0]?.layeredOn).toBeUndefined();
    expect(revert(r2, [again]).ops).toEqual(['revert 0']);
  });

  it('steps not undone on resolve neither record nor hold layers', () => {
    const keep = aRunbook({ spec: { steps: [{ ...degrade, revertOnResolve: false }] } });
    const r1 = run('r1', absentToTrue);
    const permanent = run('perm', trueToTrue, [r1], keep);
    expect(permanent.status?.steps?.[0]?.layeredOn).toBeUndefined();
    expect(revert(r1, [permanent]).ops).toEqual(['revert 0']);
  });

  it('a scale and a patch of the replicas are changes to the same field', () => {
    const scaleUp = aRunbook({
      spec: { steps: [aReversibleStep({ name: 'up', action: 'scale', scale: { replicas: 5 } })] },
    });
    const patchUp = aRunbook({
      spec: {
        steps: [
          aReversibleStep({
            name: 'more',
            action: 'patch',
            patch: { type: 'merge', patch: { spec: { replicas: 8 } } },
          }),
        ],
      },
    });
    const r1 = run('s1', { before: { replicas: 3 }, after: { replicas: 5 } }, [], scaleUp);
    const r2 = run(
      'p2',
      {
        before: { paths: { '/spec/replicas': { value: 5 } } },
        after: { paths: { '/spec/replicas': { value: 8 } } },
      },
      [r1],
      patchUp,
    );
    expect(r2.status?.steps?.[0]?.layeredOn).toEqual([
      { remediation: `${NS}/s1`, uid: 'uid-s1', step: 'up' },
    ]);
    expect(revert(r1, [r2]).ops).toEqual([]);
  });

  it('a held revert that is no longer asked for is released', () => {
    const r1 = run('r1', absentToTrue);
    const r2 = run('r2', trueToTrue, [r1]);
    const held = revert(r1, [r2]).rem;
    const firing = {
      ...held,
      spec: { ...held.spec, alert: { ...held.spec.alert!, status: 'firing' as const } },
    };
    const d = next(observed(firing, { runbook: rb, peers: [r2] }));
    expect(findCondition(d.status.conditions, CONDITION_TYPES.blocked)).toMatchObject({
      status: 'False',
      reason: REASONS.revertHeld,
    });
    expect(d.op.kind).toBe('none');
  });
});

describe('next: a revert with nothing to send needs no checkpoint (ADR 0028)', () => {
  /** The actions as the reconciler sees them when the reversible ones have a checkRevert(). */
  const checking = (n: ActionName) => {
    const info = ACTION_INFO[n];
    return info?.reversible ? { ...info, checksRevert: true } : info;
  };
  const envRunbook = aRunbook({
    spec: {
      steps: [
        aReversibleStep({ name: 'a', action: 'setEnv', setEnv: { env: [{ name: 'A', value: '1' }] } }),
        aReversibleStep({ name: 'b', action: 'setEnv', setEnv: { env: [{ name: 'B', value: '1' }] } }),
      ],
    },
  });
  const obs = (r: Remediation) => observed(r, { runbook: envRunbook, actionInfo: checking });
  const succeeded = drive(aRemediation(), { obs }).rem;
  const resolved: Remediation = {
    ...succeeded,
    spec: { ...succeeded.spec, alert: { ...succeeded.spec.alert!, status: 'resolved' } },
  };

  it('asks for the check with the checkpoint as its status, written only if there is something to send', () => {
    const d = next(obs(resolved));
    expect(d.op).toEqual({ kind: 'checkRevert', index: 1, attempt: 1 });
    expect(d.status.steps?.[1]?.phase).toBe('Reverting');
    expect(d.status.phase).toBe('Reverting');
    const op = { kind: 'checkRevert', index: 1, attempt: 1 } as const;
    const checkpoint = next(obs(resolved), { op, nothingToDo: undefined, at: T0 });
    expect(checkpoint.op.kind).toBe('none');
    expect(checkpoint.status).toEqual(d.status);
    expect(checkpoint.requeueAfterMs).toBe(CHECKPOINT_REQUEUE_MS);
    expect(next(obs(withStatus(resolved, checkpoint.status))).op).toEqual(revertOp(1));
  });

  it('nothing to send anywhere: each step recorded Reverted with no checkpoint, the finish in the last write', () => {
    const { rem, ops, decisions } = drive(resolved, {
      obs,
      check: () => 'Deployment/web: env already restored',
    });
    expect(ops).toEqual(['check 1', 'check 0']);
    // Two writes: one per step, the second with the finish and the revert's one Event.
    expect(decisions).toHaveLength(3);
    expect(decisions.slice(0, 2).every((x) => x.status.steps?.every((st) => st.phase !== 'Reverting'))).toBe(
      true,
    );
    expect(rem.status?.phase).toBe('Reverted');
    expect(rem.status?.steps?.map((st) => [st.phase, st.message])).toEqual([
      ['Reverted', 'Deployment/web: env already restored'],
      ['Reverted', 'Deployment/web: env already restored'],
    ]);
    expect(findCondition(rem.status?.conditions, CONDITION_TYPES.reverted)?.status).toBe('True');
    expect(decisions[1]!.notes.filter((n) => n.kind === 'event').map((n) => n.reason)).toEqual(['Reverted']);
  });

  it('something to send in one step: that one checkpointed and reverted, the other recorded', () => {
    const { rem, ops } = drive(resolved, {
      obs,
      check: (i) => (i === 0 ? 'Deployment/web: env already restored' : undefined),
    });
    expect(ops).toEqual(['check 1', 'revert 1', 'check 0']);
    expect(rem.status?.phase).toBe('Reverted');
    expect(rem.status?.steps?.map((st) => st.phase)).toEqual(['Reverted', 'Reverted']);
  });
});

describe('next: the outcome write carries what follows without an operation', () => {
  /** Up to the apply of step `index`, as the reconciler gets there. */
  function applying(runbook: Runbook | undefined, index: number) {
    let rem = aRemediation();
    for (;;) {
      const obs = observed(rem, runbook ? { runbook } : {});
      const d = next(obs);
      if (d.op.kind === 'apply' && d.op.index === index) return obs;
      const after =
        d.op.kind === 'plan'
          ? planned(obs, { before: { n: 1 }, after: { n: 2 } }, d.op)
          : d.op.kind === 'apply'
            ? applied(obs, done(), d.op)
            : d;
      rem = withStatus(rem, after.status);
    }
  }

  it('the last step: its outcome and the finish in one write', () => {
    const obs = applying(undefined, 0);
    const merged = applied(obs, done());
    expect(merged.op.kind).toBe('none');
    expect(merged.status.phase).toBe('Succeeded');
    expect(merged.status.steps?.[0]?.phase).toBe('Succeeded');
    expect(eventLines(merged)).toEqual([
      'RemediationSucceeded: all 1 steps succeeded: restart (rolloutRestart): ok',
    ]);
    // nothing is left for the next pass to write
    const again = next(observed(withStatus(obs.remediation, merged.status)));
    expect(again.op.kind).toBe('none');
    expect(again.status).toEqual(merged.status);
  });

  it('a revert asked for meanwhile: the outcome alone; its checkpoint waits for the next pass', () => {
    const rb = aRunbook({
      spec: {
        steps: [
          aReversibleStep({ name: 'env', action: 'setEnv', setEnv: { env: [{ name: 'A', value: '1' }] } }),
        ],
      },
    });
    const obs = applying(rb, 0);
    const annotated = {
      ...obs.remediation,
      metadata: { ...obs.remediation.metadata, annotations: { [ANNOTATIONS.revert]: 'true' } },
    };
    const outcome = applied(observed(annotated, { runbook: rb }), done());
    expect(outcome.status.steps?.[0]?.phase).toBe('Succeeded');
    expect(outcome.status.phase).toBe('Running');
    expect(condOf(outcome, CONDITION_TYPES.reverted)).toBeUndefined();
    // No Event per step: the run's Event comes with the finish, in the next pass (ADR 0026).
    expect(events(outcome)).toEqual([]);
  });

  it('a step with another after it: the outcome alone, the next pass plans', () => {
    const outcome = applied(applying(threeSteps, 0), done());
    expect(outcome.status.steps?.map((st) => st.phase)).toEqual(['Succeeded', 'Pending', 'Pending']);
    expect(outcome.status.phase).toBe('Running');
    expect(next(observed(withStatus(aRemediation(), outcome.status), { runbook: threeSteps })).op.kind).toBe(
      'plan',
    );
  });

  it('an effect that is no longer what the status would run is not recorded', () => {
    const obs = applying(undefined, 0);
    const d = next(obs, { op: applyOp(0, 2), outcome: done(), at: obs.now });
    expect(d.effectLost).toBe(true);
    expect(d.op.kind).toBe('none');
    expect(d.notes).toEqual([]);
  });
});
