/**
 * rolloutUndo, as `kubectl rollout undo` does it (kubectl polymorphichelpers/rollback.go):
 * Deployments take the pod template of an owned ReplicaSet, chosen by its
 * `deployment.kubernetes.io/revision`, in a JSON patch of `/spec/template` and the
 * annotations; StatefulSets and DaemonSets take `data` of an owned ControllerRevision as a
 * strategic merge patch. The chosen revision is checkpointed in the plan, because once the
 * undo is done "the previous revision" names a different one. Our stamp goes in the same
 * request, so a repeated apply sees it and does not undo twice.
 */
import { PatchStrategy } from '@kubernetes/client-node';
import type { Action, ActionContext, ActionOutcome, Plan } from '../types.js';
import type { Step, StepStatus } from '../../api/v1alpha1/schema.js';
import { ERROR_CODES } from '../../util/errors.js';
import { FIELD_MANAGER, STAMP_ANNOTATION, attempt, raw } from './api.js';
import {
  WORKLOAD_KINDS,
  annotationsOf,
  dig,
  isControlledBy,
  requireWorkload,
  selectorString,
  validateTargetKind,
} from './workload.js';
import { describeTarget } from '../step-input.js';
import { done, failed, isFailed, planFailure, refusal, type Failed } from '../outcome.js';
import { readObject } from './reads.js';
import { stableJson } from './json-pointer.js';
import type { JsonPatchOp } from './patch-paths.js';
import type { KubeObject, ObjectRef } from '../../kube/raw-object.js';

export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
const HASH_LABEL = 'pod-template-hash';

/** Deployment annotations that stay as they are on undo (kubectl annotationsToSkip). */
const KEEP_ANNOTATIONS = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  REVISION_ANNOTATION,
  'deployment.kubernetes.io/revision-history',
  'deployment.kubernetes.io/desired-replicas',
  'deployment.kubernetes.io/max-replicas',
  'deprecated.deployment.rollback.to',
]);

export interface Revisioned<T> {
  revision: number;
  item: T;
}

/**
 * The revision to go back to: `toRevision` when given, otherwise the one before the newest.
 * Returns a reason instead when there is none.
 */
export function chooseRevision<T>(
  history: readonly Revisioned<T>[],
  toRevision: number | undefined,
): Revisioned<T> | { error: string } {
  const sorted = [...history].filter((h) => h.revision > 0).sort((a, b) => a.revision - b.revision);
  if (toRevision) {
    return (
      sorted.find((h) => h.revision === toRevision) ?? {
        error: `revision ${toRevision} not found (known: ${sorted.map((h) => h.revision).join(', ') || 'none'})`,
      }
    );
  }
  const previous = sorted[sorted.length - 2];
  return previous ?? { error: 'no previous revision to roll back to' };
}

export function replicaSetRevision(rs: KubeObject): number {
  const v = Number(annotationsOf(rs, 'metadata')[REVISION_ANNOTATION]);
  return Number.isInteger(v) ? v : 0;
}

/** A pod template without the label the Deployment controller adds to each ReplicaSet's copy. */
export function withoutHash(template: unknown): Record<string, unknown> {
  const t = structuredClone((template ?? {}) as Record<string, unknown>);
  const labels = dig(t, 'metadata', 'labels') as Record<string, string> | undefined;
  if (labels) delete labels[HASH_LABEL];
  return t;
}

/** The annotations the Deployment gets on undo, per kubectl, plus our stamp. */
export function undoAnnotations(
  deployment: KubeObject,
  rs: KubeObject,
  stamp: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(annotationsOf(deployment, 'metadata')))
    if (KEEP_ANNOTATIONS.has(k)) out[k] = v;
  for (const [k, v] of Object.entries(annotationsOf(rs, 'metadata')))
    if (!KEEP_ANNOTATIONS.has(k)) out[k] = v;
  out[STAMP_ANNOTATION] = stamp;
  return out;
}

export function deploymentUndoPatch(deployment: KubeObject, rs: KubeObject, stamp: string): JsonPatchOp[] {
  return [
    { op: 'replace', path: '/spec/template', value: withoutHash(dig(rs, 'spec', 'template')) },
    { op: 'replace', path: '/metadata/annotations', value: undoAnnotations(deployment, rs, stamp) },
  ];
}

/** True when the Deployment already runs the ReplicaSet's template (kubectl skips the undo). */
export function templateMatches(deployment: KubeObject, rs: KubeObject): boolean {
  return (
    stableJson(withoutHash(dig(deployment, 'spec', 'template'))) ===
    stableJson(withoutHash(dig(rs, 'spec', 'template')))
  );
}

export function revisionPatch(revision: KubeObject, stamp: string): Record<string, unknown> {
  const data = structuredClone((revision.data ?? {}) as Record<string, unknown>);
  const meta = (data.metadata ?? {}) as Record<string, unknown>;
  const annotations = (meta.annotations ?? {}) as Record<string, string>;
  return { ...data, metadata: { ...meta, annotations: { ...annotations, [STAMP_ANNOTATION]: stamp } } };
}

/** The workload's current revision number. */
export function currentRevision(workload: KubeObject, history: readonly Revisioned<KubeObject>[]): number {
  if (workload.kind === 'Deployment')
    return Number(annotationsOf(workload, 'metadata')[REVISION_ANNOTATION] ?? 0) || 0;
  const newest = Math.max(0, ...history.map((h) => h.revision));
  // Until the controller has observed the latest spec, status.updateRevision still names the
  // revision before it; the newest ControllerRevision is then the truth.
  const observed = Number(dig(workload, 'status', 'observedGeneration') ?? 0);
  if (observed < Number(workload.metadata?.generation ?? 0)) return newest;
  const updateName = dig(workload, 'status', 'updateRevision');
  const named = history.find((h) => h.item.metadata?.name === updateName);
  return named?.revision ?? newest;
}

/** before/after of the undo, or a refusal (pure). */
export function planUndo(
  workload: KubeObject,
  history: readonly Revisioned<KubeObject>[],
  toRevision: number | undefined,
): Plan {
  if (workload.kind === 'Deployment' && dig(workload, 'spec', 'paused') === true) {
    return refusal(
      ERROR_CODES.actionRefused,
      'Paused',
      `Deployment ${workload.metadata?.name} is paused: resume it before rolling back`,
    );
  }
  const current = currentRevision(workload, history);
  const chosen = chooseRevision(history, toRevision);
  if ('error' in chosen)
    return refusal(
      ERROR_CODES.actionRefused,
      'RevisionNotFound',
      `${workload.kind} ${workload.metadata?.name}: ${chosen.error}`,
    );
  return { before: { revision: current }, after: { revision: chosen.revision } };
}

export function validateUndo(step: Step): string[] {
  const errors = validateTargetKind(step, WORKLOAD_KINDS);
  const r = step.rolloutUndo?.toRevision;
  if (r !== undefined && (!Number.isInteger(r) || r < 0))
    errors.push('rolloutUndo.toRevision: must be an integer of 0 or more');
  return errors;
}

async function history(
  ctx: ActionContext,
  workload: KubeObject,
  ref: ObjectRef,
): Promise<Revisioned<KubeObject>[] | Failed> {
  const isDeployment = ref.kind === 'Deployment';
  const list = await attempt(`history of ${describeTarget(ref)}`, () =>
    raw(ctx).listIn(
      {
        apiVersion: 'apps/v1',
        kind: isDeployment ? 'ReplicaSet' : 'ControllerRevision',
        namespace: ref.namespace,
      },
      selectorString(dig(workload, 'spec', 'selector')),
    ),
  );
  if (isFailed(list)) return list;
  return list.items
    .filter((i) => isControlledBy(i, workload.metadata?.uid))
    .map((item) => ({
      item,
      revision: isDeployment ? replicaSetRevision(item) : Number(item.revision ?? 0),
    }));
}

async function gather(
  ctx: ActionContext,
): Promise<{ ref: ObjectRef; workload: KubeObject; history: Revisioned<KubeObject>[] } | Failed> {
  const ref = requireWorkload(ctx);
  if (isFailed(ref)) return ref;
  const workload = await readObject(ctx, ref);
  if (isFailed(workload)) return workload;
  const h = await history(ctx, workload, ref);
  return isFailed(h) ? h : { ref, workload, history: h };
}

async function plan(ctx: ActionContext): Promise<Plan> {
  const g = await gather(ctx);
  if (isFailed(g)) return planFailure(g);
  return planUndo(g.workload, g.history, ctx.step.rolloutUndo?.toRevision);
}

function undoBody(
  workload: KubeObject,
  target: KubeObject,
  stamp: string,
): { body: unknown; contentType: PatchStrategy } {
  if (workload.kind === 'Deployment')
    return { body: deploymentUndoPatch(workload, target, stamp), contentType: PatchStrategy.JsonPatch };
  return { body: revisionPatch(target, stamp), contentType: PatchStrategy.StrategicMergePatch };
}

async function apply(ctx: ActionContext, record: StepStatus): Promise<ActionOutcome> {
  const g = await gather(ctx);
  if (isFailed(g)) return g;
  const { ref, workload } = g;
  const before = record.before ?? {};
  const after = record.after ?? {};
  if (annotationsOf(workload, 'metadata')[STAMP_ANNOTATION] === ctx.stamp) {
    return done(`${describeTarget(ref)} was already rolled back by this step (stamp ${ctx.stamp})`, {
      before,
      after,
    });
  }
  const blocked = planUndo(workload, g.history, ctx.step.rolloutUndo?.toRevision).refused;
  if (blocked?.reason === 'Paused') return failed(blocked.code, blocked.reason, blocked.message, false);
  const target = g.history.find((h) => h.revision === after.revision);
  if (!target)
    return failed(
      ERROR_CODES.actionFailed,
      'RevisionNotFound',
      `${describeTarget(ref)}: planned revision ${String(after.revision)} no longer exists`,
      false,
    );
  if (ref.kind === 'Deployment' && templateMatches(workload, target.item)) {
    return done(
      `${describeTarget(ref)} already runs the template of revision ${target.revision}; nothing to undo (as kubectl skips it)`,
      { before, after },
    );
  }
  const { body, contentType } = undoBody(workload, target.item, ctx.stamp);
  const res = await attempt(describeTarget(ref), () =>
    raw(ctx).patchRaw(ref, body, { contentType, dryRun: ctx.dryRun, fieldManager: FIELD_MANAGER }),
  );
  if (isFailed(res)) return res;
  const what = `${describeTarget(ref)} from revision ${String(before.revision)} to revision ${target.revision}`;
  if (ctx.dryRun) return done(`would roll back ${what}`, { before, after, diff: { before, after } });
  return done(`rolled back ${what}`, { before, after });
}

export const rolloutUndo: Action = {
  name: 'rolloutUndo',
  mutating: true,
  reversible: false,
  validate: validateUndo,
  plan,
  apply,
};
