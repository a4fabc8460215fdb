/**
 * patch: merge, strategic-merge or JSON patch on any namespaced object.
 *
 * The patch is checked against the bounds before it is sent (pure), and the prior values of
 * exactly the paths it touches are recorded, so revert can write them back as a JSON patch.
 * Our stamp rides in the same request, because a JSON patch that appends or removes list
 * items would do it again if repeated.
 *
 * revert is compare-and-swap: a touched path is written back only while it still holds what
 * the step left there (`after`), guarded by JSON patch `test`s; paths already at `before`
 * need nothing, and any other value refuses the revert with ChangedSince.
 */
import { PatchStrategy } from '@kubernetes/client-node';
import type { Action, ActionContext, ActionOutcome, Plan } from '../types.js';
import type { Bounds, Step, StepStatus } from '../../api/v1alpha1/schema.js';
import { ERROR_CODES, errorMessage } from '../../util/errors.js';
import { checkPatchBounds } from './bounds.js';
import { FIELD_MANAGER, STAMP_ANNOTATION, attempt, changedSince, guardedJsonPatch, raw } from './api.js';
import { annotationsOf } from './workload.js';
import { describeTarget, requireParams, requireTarget, validateParamsPresent } from '../step-input.js';
import { done, failed, isFailed, planFailure, refusal, refusedOutcome, type Failed } from '../outcome.js';
import { readObject } from './reads.js';
import { escapeSegment, isPlainObject } from './json-pointer.js';
import { applyJsonPatch, applyMergePatch } from './patch-apply.js';
import {
  patchEffect,
  priorValues,
  describePrior,
  guardedRevertOps,
  type JsonPatchOp,
  type PatchType,
  type PriorValue,
} from './patch-paths.js';
import type { KubeObject } from '../../kube/raw-object.js';

const CONTENT_TYPES: Record<PatchType, PatchStrategy> = {
  merge: PatchStrategy.MergePatch,
  strategic: PatchStrategy.StrategicMergePatch,
  json: PatchStrategy.JsonPatch,
};

const OPS = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test']);

/** The object the patch would produce, where it can be computed locally (not strategic). */
function locallyApplied(obj: KubeObject, type: PatchType, body: unknown): unknown {
  if (type === 'json') return applyJsonPatch(obj, body as JsonPatchOp[]);
  if (type === 'merge') return applyMergePatch(obj, body);
  return undefined;
}

/** Bounds decision and before/after of a patch against the observed object (pure). */
export function planPatch(obj: KubeObject, type: PatchType, body: unknown, bounds: Bounds | undefined): Plan {
  const effect = patchEffect(type, body, obj);
  const violation = checkPatchBounds(effect, bounds);
  if (violation)
    return refusal(ERROR_CODES.boundExceeded, 'BoundExceeded', `patch refused: ${violation.message}`);
  let result: unknown;
  try {
    result = locallyApplied(obj, type, body);
  } catch (err) {
    return refusal(
      ERROR_CODES.invalidParam,
      'PatchDoesNotApply',
      `patch does not apply to the current object: ${errorMessage(err)}`,
    );
  }
  const before = { type, paths: priorValues(obj, effect.touched) };
  return result === undefined
    ? { before, after: {} }
    : { before, after: { paths: priorValues(result, effect.touched) } };
}

/** The patch with our stamp added, in the patch's own language. */
export function withStamp(type: PatchType, body: unknown, obj: KubeObject, stamp: string): unknown {
  if (type === 'json') {
    const hasAnnotations = obj.metadata?.annotations !== undefined;
    const op: JsonPatchOp = hasAnnotations
      ? { op: 'add', path: `/metadata/annotations/${escapeSegment(STAMP_ANNOTATION)}`, value: stamp }
      : { op: 'add', path: '/metadata/annotations', value: { [STAMP_ANNOTATION]: stamp } };
    return [...(body as JsonPatchOp[]), op];
  }
  const b = body as Record<string, unknown>;
  const meta = isPlainObject(b.metadata) ? b.metadata : b.metadata === undefined ? {} : undefined;
  if (!meta) return body;
  const ann = isPlainObject(meta.annotations)
    ? meta.annotations
    : meta.annotations === undefined
      ? {}
      : undefined;
  if (!ann) return body;
  return { ...b, metadata: { ...meta, annotations: { ...ann, [STAMP_ANNOTATION]: stamp } } };
}

export function validatePatchParams(step: Step): string[] {
  const missing = validateParamsPresent(step, 'patch');
  if (missing.length) return missing;
  const type = step.patch?.type ?? 'strategic';
  const body = step.patch?.patch;
  if (!(type in CONTENT_TYPES)) return [`patch.type: must be merge, strategic or json, not ${String(type)}`];
  if (type !== 'json')
    return isPlainObject(body) && Object.keys(body).length > 0
      ? []
      : [`patch.patch: a ${type} patch must be a non-empty object`];
  if (!Array.isArray(body) || body.length === 0)
    return ['patch.patch: a json patch must be a non-empty list of operations'];
  return body.flatMap((op, i) => validateOp(op, i));
}

function validateOp(op: unknown, i: number): string[] {
  const at = `patch.patch[${i}]`;
  if (!isPlainObject(op)) return [`${at}: must be an object with op and path`];
  const errors: string[] = [];
  if (typeof op.op !== 'string' || !OPS.has(op.op))
    errors.push(`${at}.op: must be one of ${[...OPS].join(', ')}`);
  if (typeof op.path !== 'string' || !op.path.startsWith('/'))
    errors.push(`${at}.path: must be a JSON pointer starting with /`);
  if ((op.op === 'add' || op.op === 'replace' || op.op === 'test') && !('value' in op))
    errors.push(`${at}.value: required for ${op.op}`);
  if ((op.op === 'move' || op.op === 'copy') && (typeof op.from !== 'string' || !op.from.startsWith('/'))) {
    errors.push(`${at}.from: required for ${op.op} (a JSON pointer)`);
  }
  return errors;
}

function paramsOf(ctx: ActionContext): { type: PatchType; body: unknown } | Failed {
  const p = requireParams(ctx, 'patch');
  if (isFailed(p)) return p;
  return { type: p.type ?? 'strategic', body: p.patch };
}

async function plan(ctx: ActionContext): Promise<Plan> {
  const t = requireTarget(ctx);
  if (isFailed(t)) return refusal(t.code, t.reason, t.message);
  const p = paramsOf(ctx);
  if (isFailed(p)) return refusal(p.code, p.reason, p.message);
  const problems = validatePatchParams(ctx.step);
  if (problems.length) return refusal(ERROR_CODES.invalidParam, 'InvalidPatch', problems.join('; '));
  const obj = await readObject(ctx, t);
  if (isFailed(obj)) return planFailure(obj);
  return planPatch(obj, p.type, p.body, ctx.bounds);
}

function recordedPaths(record: StepStatus): Record<string, PriorValue> | undefined {
  return record.before?.paths as Record<string, PriorValue> | undefined;
}

async function apply(ctx: ActionContext, record: StepStatus): Promise<ActionOutcome> {
  const t = requireTarget(ctx);
  if (isFailed(t)) return t;
  const p = paramsOf(ctx);
  if (isFailed(p)) return p;
  const obj = await readObject(ctx, t);
  if (isFailed(obj)) return obj;
  if (annotationsOf(obj, 'metadata')[STAMP_ANNOTATION] === ctx.stamp) {
    // A strategic plan cannot know `after`; the stamped object shows what the patch left.
    const prior = recordedPaths(record);
    const after =
      record.after?.paths === undefined && prior
        ? { paths: priorValues(obj, Object.keys(prior)) }
        : record.after;
    return done(`${describeTarget(t)} was already patched by this step (stamp ${ctx.stamp})`, {
      before: record.before,
      after,
    });
  }
  const checked = planPatch(obj, p.type, p.body, ctx.bounds);
  const blocked = refusedOutcome(checked);
  if (blocked) return blocked;
  const res = await attempt(describeTarget(t), () =>
    raw(ctx).patchRaw(t, withStamp(p.type, p.body, obj, ctx.stamp), {
      contentType: CONTENT_TYPES[p.type],
      dryRun: ctx.dryRun,
      fieldManager: FIELD_MANAGER,
    }),
  );
  if (isFailed(res)) return res;
  const touched = Object.keys(recordedPaths(record) ?? (checked.before?.paths as Record<string, PriorValue>));
  const before = record.before ?? checked.before ?? {};
  const after = { paths: priorValues(res, touched) };
  const what = `${p.type} patch of ${touched.join(', ')} on ${describeTarget(t)}`;
  if (ctx.dryRun)
    return done(`would apply ${what}`, { before, after, diff: { before: before.paths, after: after.paths } });
  return done(`applied ${what}`, { before, after });
}

async function revert(ctx: ActionContext, record: StepStatus): Promise<ActionOutcome> {
  const t = requireTarget(ctx);
  if (isFailed(t)) return t;
  const prior = recordedPaths(record);
  if (!prior)
    return failed(
      ERROR_CODES.invalidSpec,
      'NothingRecorded',
      'no prior values were recorded, so the patch cannot be reversed',
      false,
    );
  const setBy = record.after?.paths as Record<string, PriorValue> | undefined;
  for (let n = 1; ; n++) {
    const obj = await readObject(ctx, t);
    if (isFailed(obj)) return obj;
    const decided = guardedRevertOps(prior, setBy, obj);
    if ('changed' in decided) {
      const c = decided.changed;
      return changedSince(
        `${describeTarget(t)}: ${c.path} changed since the step (now ${describePrior(c.now)}, step set ${describePrior(c.after)}); not reverted`,
      );
    }
    const ops = decided.ops;
    if (ops.length === 0)
      return done(`${describeTarget(t)} already has the prior values of ${Object.keys(prior).join(', ')}`);
    const res = await guardedJsonPatch(ctx, t, ops, describeTarget(t), n);
    if (res === 'retry') continue;
    if (isFailed(res)) return res;
    const after = { paths: priorValues(res, Object.keys(prior)) };
    const before = { paths: priorValues(obj, Object.keys(prior)) };
    const what = `${Object.keys(prior).join(', ')} on ${describeTarget(t)}`;
    if (ctx.dryRun)
      return done(`would restore ${what}`, {
        before,
        after,
        diff: { before: before.paths, after: after.paths },
      });
    return done(`restored ${what}`, { before, after });
  }
}

/** How many times a revert re-reads and retries when its guarded patch loses a race. */

export const patch: Action = {
  name: 'patch',
  mutating: true,
  reversible: true,
  validate: validatePatchParams,
  plan,
  apply,
  revert,
};
