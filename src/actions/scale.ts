/**
 * scale: through the scale subresource with a merge patch `{spec:{replicas}}`, as
 * `kubectl scale` does. Setting a count is idempotent by nature, so no stamp is needed.
 */
import type { Action, ActionContext, ActionOutcome, Plan, ResolvedTarget } from './types.js';
import type { Bounds, Step, StepStatus } from '../api/v1alpha1/schema.js';
import { PATCH } from '../kube/client.js';
import { ERROR_CODES } from '../util/errors.js';
import { checkReplicas } from './bounds.js';
import {
  attempt,
  describeTarget,
  done,
  failed,
  isFailed,
  planFailure,
  refusal,
  refusedOutcome,
  requireParams,
  requireWorkload,
  validateParamsPresent,
  validateTargetKind,
  type Failed,
} from './common.js';

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

async function readReplicas(ctx: ActionContext, t: ResolvedTarget): Promise<number | Failed> {
  const args = { name: t.name, namespace: t.namespace };
  const res = await attempt(describeTarget(t), () =>
    t.kind === 'StatefulSet'
      ? ctx.clients.apps.readNamespacedStatefulSetScale(args)
      : ctx.clients.apps.readNamespacedDeploymentScale(args),
  );
  return isFailed(res) ? res : (res.spec?.replicas ?? 0);
}

async function writeReplicas(
  ctx: ActionContext,
  t: ResolvedTarget,
  replicas: number,
): Promise<Failed | undefined> {
  const args = {
    name: t.name,
    namespace: t.namespace,
    body: { spec: { replicas } },
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
  const prior = await readReplicas(ctx, t);
  if (isFailed(prior)) return planFailure(prior);
  return planScale(prior, params.replicas, ctx.bounds);
}

function recorded(record: StepStatus, key: 'before' | 'after'): number | undefined {
  const v = record[key]?.replicas;
  return typeof v === 'number' ? v : undefined;
}

async function setReplicas(
  ctx: ActionContext,
  record: StepStatus,
  from: number | undefined,
  to: number,
  verb: string,
): Promise<ActionOutcome> {
  const t = requireWorkload(ctx, SCALABLE_KINDS);
  if (isFailed(t)) return t;
  const err = await writeReplicas(ctx, t, to);
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
  return setReplicas(ctx, record, recorded(record, 'before'), to, 'scale');
}

async function revert(ctx: ActionContext, record: StepStatus): Promise<ActionOutcome> {
  const to = recorded(record, 'before');
  if (to === undefined)
    return failed(
      ERROR_CODES.invalidSpec,
      'NothingRecorded',
      'no prior replica count was recorded, so there is nothing to scale back to',
      false,
    );
  return setReplicas(ctx, record, recorded(record, 'after'), to, 'scale back');
}

export const scale: Action = {
  name: 'scale',
  mutating: true,
  reversible: true,
  validate: validateScale,
  plan,
  apply,
  revert,
};
