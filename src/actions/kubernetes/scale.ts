/**
 * scale: through the scale subresource with a merge patch `{spec:{replicas}}`, as
 * `kubectl scale` does. Setting a count is idempotent by nature, so no stamp is needed.
 *
 * revert is compare-and-swap: it scales back only while the count is still the one the step
 * set, with the resourceVersion it read as a precondition; a count already back at `before`
 * is done, and any other count (an HPA, a person, another remediation) refuses ChangedSince.
 */
import type { Action, ActionContext, ActionOutcome, Plan, ResolvedTarget } from '../types.js';
import type { Bounds, Step, StepStatus } from '../../api/v1alpha1/schema.js';
import { PATCH } from '../../kube/client.js';
import { ERROR_CODES } from '../../util/errors.js';
import { checkReplicas } from './bounds.js';
import { attempt, changedSince, lostRace } from './api.js';
import { describeTarget, requireParams, validateParamsPresent } from '../step-input.js';
import { dig, requireWorkload, validateTargetKind } from './workload.js';
import { done, failed, isFailed, planFailure, refusal, refusedOutcome, type Failed } from '../outcome.js';
import { isCachedRead, peekTarget, recordRead, takeRead } from './reads.js';

export const SCALABLE_KINDS = ['Deployment', 'StatefulSet'] as const;

export function planScale(prior: number, replicas: number, bounds: Bounds | undefined): Plan {
  const violation = checkReplicas(replicas, bounds, 'scale.replicas');
  if (violation) return refusal(ERROR_CODES.boundExceeded, 'BoundExceeded', violation.message);
  return { before: { replicas: prior }, after: { replicas } };
}

export function validateScale(step: Step): string[] {
  const missing = validateParamsPresent(step, 'scale');
  if (missing.length) return missing;
  const errors = validateTargetKind(step, SCALABLE_KINDS);
  const r = step.scale?.replicas;
  if (typeof r !== 'number' || !Number.isInteger(r) || r < 0)
    errors.push('scale.replicas: must be an integer of 0 or more');
  return errors;
}

/** What a revert does with the observed count (pure). */
export function revertScale(
  now: number,
  before: number,
  after: number | undefined,
): 'done' | 'restore' | { changed: string } {
  if (now === before) return 'done';
  if (now === after) return 'restore';
  return {
    changed: `replicas changed since the step (now ${now}, step set ${after ?? 'nothing recorded'}); not reverted`,
  };
}

async function readScale(
  ctx: ActionContext,
  t: ResolvedTarget,
): Promise<{ replicas: number; resourceVersion?: string } | Failed> {
  const args = { name: t.name, namespace: t.namespace };
  const res = await attempt(describeTarget(t), () =>
    t.kind === 'StatefulSet'
      ? ctx.clients.apps.readNamespacedStatefulSetScale(args)
      : ctx.clients.apps.readNamespacedDeploymentScale(args),
  );
  return isFailed(res)
    ? res
    : { replicas: res.spec?.replicas ?? 0, resourceVersion: res.metadata?.resourceVersion };
}

/** Sets the count; with `resourceVersion`, only if the object is still at it (409 otherwise). */
async function writeReplicas(
  ctx: ActionContext,
  t: ResolvedTarget,
  replicas: number,
  resourceVersion?: string,
): Promise<Failed | undefined> {
  const args = {
    name: t.name,
    namespace: t.namespace,
    body: resourceVersion ? { metadata: { resourceVersion }, spec: { replicas } } : { spec: { replicas } },
    dryRun: ctx.dryRun ? 'All' : undefined,
    fieldManager: 'kube-remediator',
  };
  const res = await attempt(describeTarget(t), () =>
    t.kind === 'StatefulSet'
      ? ctx.clients.apps.patchNamespacedStatefulSetScale(args, PATCH.merge)
      : ctx.clients.apps.patchNamespacedDeploymentScale(args, PATCH.merge),
  );
  return isFailed(res) ? res : undefined;
}

async function plan(ctx: ActionContext): Promise<Plan> {
  const t = requireWorkload(ctx, SCALABLE_KINDS);
  if (isFailed(t)) return refusal(t.code, t.reason, t.message);
  const params = requireParams(ctx, 'scale');
  if (isFailed(params)) return refusal(params.code, params.reason, params.message);
  // The cached workload's count, confirmed by apply()'s precondition; else the scale subresource.
  const cached = peekTarget(ctx, t);
  const replicas = dig(cached, 'spec', 'replicas');
  if (typeof replicas === 'number') return planScale(replicas, params.replicas, ctx.bounds);
  const prior = await readScale(ctx, t);
  if (isFailed(prior)) return planFailure(prior);
  recordRead(ctx, t, {
    metadata: { resourceVersion: prior.resourceVersion },
    spec: { replicas: prior.replicas },
  });
  return planScale(prior.replicas, params.replicas, ctx.bounds);
}

function recorded(record: StepStatus, key: 'before' | 'after'): number | undefined {
  const v = record[key]?.replicas;
  return typeof v === 'number' ? v : undefined;
}

async function setReplicas(
  ctx: ActionContext,
  from: number | undefined,
  to: number,
  verb: string,
  resourceVersion?: string,
): Promise<ActionOutcome> {
  const t = requireWorkload(ctx, SCALABLE_KINDS);
  if (isFailed(t)) return t;
  const err = await writeReplicas(ctx, t, to, resourceVersion);
  if (err) return err;
  const before = from === undefined ? {} : { replicas: from };
  const after = { replicas: to };
  if (ctx.dryRun)
    return done(`would ${verb} ${describeTarget(t)} to ${to} replicas`, {
      before,
      after,
      diff: { before, after },
    });
  return done(
    `${verb === 'scale' ? 'scaled' : 'scaled back'} ${describeTarget(t)} from ${from ?? '?'} to ${to} replicas`,
    { before, after },
  );
}

async function apply(ctx: ActionContext, record: StepStatus): Promise<ActionOutcome> {
  const params = requireParams(ctx, 'scale');
  if (isFailed(params)) return params;
  const to = recorded(record, 'after') ?? params.replicas;
  const blocked = refusedOutcome(planScale(0, to, ctx.bounds));
  if (blocked) return blocked;
  const t = requireWorkload(ctx, SCALABLE_KINDS);
  if (isFailed(t)) return t;
  const seen = takeRead(ctx, t);
  if (!seen) {
    // A later pass than the plan (a crash, a wait for the lock): what does this change overwrite?
    const now = await readScale(ctx, t);
    if (isFailed(now)) return now;
    return setReplicas(ctx, now.replicas === to ? recorded(record, 'before') : now.replicas, to, 'scale');
  }
  // Planned on the cache: only onto the version it saw.
  const guard = isCachedRead(seen) ? seen.metadata?.resourceVersion : undefined;
  const res = await setReplicas(ctx, recorded(record, 'before'), to, 'scale', guard);
  if (!guard || res.kind !== 'failed' || !lostRace(res)) return res;
  // The cache was behind: record the count the workload really had.
  const now = await readScale(ctx, t);
  if (isFailed(now)) return now;
  return setReplicas(ctx, now.replicas, to, 'scale');
}

/** How many times a revert re-reads when its precondition loses a race (status writes). */
const REVERT_TRIES = 3;

async function revert(ctx: ActionContext, record: StepStatus): Promise<ActionOutcome> {
  const to = recorded(record, 'before');
  if (to === undefined)
    return failed(
      ERROR_CODES.invalidSpec,
      'NothingRecorded',
      'no prior replica count was recorded, so there is nothing to scale back to',
      false,
    );
  const t = requireWorkload(ctx, SCALABLE_KINDS);
  if (isFailed(t)) return t;
  const setBy = recorded(record, 'after');
  for (let n = 1; ; n++) {
    const now = await readScale(ctx, t);
    if (isFailed(now)) return now;
    const decided = revertScale(now.replicas, to, setBy);
    if (decided === 'done')
      return done(`${describeTarget(t)} already has ${to} replicas`, {
        before: { replicas: now.replicas },
        after: { replicas: to },
      });
    if (decided !== 'restore') return changedSince(`${describeTarget(t)}: ${decided.changed}`);
    const res = await setReplicas(ctx, now.replicas, to, 'scale back', now.resourceVersion);
    if (res.kind === 'failed' && res.reason === 'Conflict' && n < REVERT_TRIES) continue;
    return res;
  }
}

/**
 * Before the revert's checkpoint: whether it has anything to send (ADR 0028). The scale
 * subresource read live; a count that changed since is left to revert() to refuse.
 */
async function checkRevert(ctx: ActionContext, record: StepStatus): Promise<string | undefined> {
  const to = recorded(record, 'before');
  const t = requireWorkload(ctx, SCALABLE_KINDS);
  if (to === undefined || isFailed(t)) return undefined;
  const now = await readScale(ctx, t);
  if (isFailed(now) || revertScale(now.replicas, to, recorded(record, 'after')) !== 'done') return undefined;
  return `${describeTarget(t)} already has ${to} replicas`;
}

export const scale: Action = {
  name: 'scale',
  mutating: true,
  reversible: true,
  validate: validateScale,
  plan,
  apply,
  revert,
  checkRevert,
};
