/**
 * deletePod: by names or by label selector, never more than maxCount.
 *
 * plan picks the pods (names and uids) and apply deletes exactly those, each with a uid
 * precondition: a StatefulSet re-creates a pod under the same name, and a repeated apply
 * must not delete the replacement. 404 and a failed uid precondition both mean "already done".
 */
import type { Action, ActionContext, ActionOutcome, Plan } from '../types.js';
import type { Step, StepStatus } from '../../api/v1alpha1/schema.js';
import { isConflict, isNotFound } from '../../kube/client.js';
import { ERROR_CODES } from '../../util/errors.js';
import { done, isFailed, planFailure, refusal, type Failed } from '../outcome.js';
import { failureFromError, raw } from './api.js';
import { requireParams, validateParamsPresent } from '../step-input.js';
import type { KubeObject } from '../../kube/raw-object.js';

export interface PodPick {
  name: string;
  uid: string;
}

interface DeletePodParams {
  names?: string[];
  labelSelector?: string;
  maxCount?: number;
}

/** Which of the observed pods to delete, or a refusal when too many match (pure). */
export function choosePods(pods: readonly KubeObject[], params: DeletePodParams, namespace: string): Plan {
  const live = pods.filter((p) => !p.metadata?.deletionTimestamp);
  const picked = params.names?.length
    ? live.filter((p) => params.names!.includes(p.metadata?.name ?? ''))
    : live;
  const max = params.maxCount ?? 1;
  const how = params.names?.length
    ? `names ${params.names.join(', ')}`
    : `selector "${params.labelSelector}"`;
  if (picked.length > max) {
    return refusal(
      ERROR_CODES.actionRefused,
      'TooManyPods',
      `${picked.length} pods in ${namespace} match ${how}, more than deletePod.maxCount ${max}`,
    );
  }
  const chosen: PodPick[] = picked.map((p) => ({ name: p.metadata?.name ?? '', uid: p.metadata?.uid ?? '' }));
  return { before: { pods: chosen }, after: { pods: chosen.map((p) => p.name) } };
}

export function validateDeletePod(step: Step): string[] {
  const missing = validateParamsPresent(step, 'deletePod');
  if (missing.length) return missing;
  const p = step.deletePod!;
  const errors: string[] = [];
  const hasNames = (p.names?.length ?? 0) > 0;
  const hasSelector = (p.labelSelector ?? '').trim() !== '';
  if (!hasNames && !hasSelector) errors.push('deletePod: give names or labelSelector');
  if (hasNames && hasSelector) errors.push('deletePod: give names or labelSelector, not both');
  if (p.maxCount !== undefined && (!Number.isInteger(p.maxCount) || p.maxCount < 1))
    errors.push('deletePod.maxCount: must be an integer of 1 or more');
  if (hasNames && p.names!.length > (p.maxCount ?? 1))
    errors.push(`deletePod.names: ${p.names!.length} names but maxCount is ${p.maxCount ?? 1}`);
  return errors;
}

function namespaceOf(ctx: ActionContext): string {
  return ctx.target?.namespace ?? ctx.remediation.metadata.namespace ?? 'default';
}

async function listPods(
  ctx: ActionContext,
  params: DeletePodParams,
  namespace: string,
): Promise<KubeObject[] | Failed> {
  const selector = params.names?.length ? undefined : params.labelSelector;
  try {
    const list = await raw(ctx).listIn({ apiVersion: 'v1', kind: 'Pod', namespace }, selector);
    return list.items;
  } catch (err) {
    return failureFromError(err, `pods in ${namespace}`);
  }
}

async function plan(ctx: ActionContext): Promise<Plan> {
  const params = requireParams(ctx, 'deletePod');
  if (isFailed(params)) return refusal(params.code, params.reason, params.message);
  const problems = validateDeletePod(ctx.step);
  if (problems.length) return refusal(ERROR_CODES.invalidParam, 'InvalidParams', problems.join('; '));
  const namespace = namespaceOf(ctx);
  const pods = await listPods(ctx, params, namespace);
  if (isFailed(pods)) return planFailure(pods);
  return choosePods(pods, params, namespace);
}

/** Deletes one pod; a 404 or a failed uid precondition means it is already gone or replaced. */
async function deleteOne(ctx: ActionContext, namespace: string, pod: PodPick): Promise<Failed | undefined> {
  try {
    // With a body the API server reads DeleteOptions from it and ignores the query string,
    // so dryRun must ride in the body too, or a dry run would really delete.
    await ctx.clients.core.deleteNamespacedPod({
      name: pod.name,
      namespace,
      dryRun: ctx.dryRun ? 'All' : undefined,
      body: {
        ...(pod.uid ? { preconditions: { uid: pod.uid } } : {}),
        ...(ctx.dryRun ? { dryRun: ['All'] } : {}),
      },
    });
    return undefined;
  } catch (err) {
    if (isNotFound(err) || isConflict(err)) return undefined;
    return failureFromError(err, `pod ${namespace}/${pod.name}`);
  }
}

async function apply(ctx: ActionContext, record: StepStatus): Promise<ActionOutcome> {
  const namespace = namespaceOf(ctx);
  const pods = (record.before?.pods as PodPick[] | undefined) ?? [];
  for (const pod of pods) {
    const err = await deleteOne(ctx, namespace, pod);
    if (err) return err;
  }
  const names = pods.map((p) => p.name);
  const after = { pods: names };
  if (names.length === 0)
    return done(`no pods in ${namespace} matched; nothing deleted`, { before: record.before, after });
  if (ctx.dryRun)
    return done(`would delete ${names.length} pod(s) in ${namespace}: ${names.join(', ')}`, {
      before: record.before,
      after,
      diff: { delete: names },
    });
  return done(`deleted ${names.length} pod(s) in ${namespace}: ${names.join(', ')}`, {
    before: record.before,
    after,
  });
}

export const deletePod: Action = {
  name: 'deletePod',
  mutating: true,
  reversible: false,
  validate: validateDeletePod,
  plan,
  apply,
};
