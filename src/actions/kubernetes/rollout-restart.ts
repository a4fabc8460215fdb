/**
 * rolloutRestart: what `kubectl rollout restart` sends (a strategic merge patch of the pod
 * template's `kubectl.kubernetes.io/restartedAt` annotation), plus our stamp in the same
 * annotations, so that one patch both restarts and records that this attempt restarted.
 */
import { PatchStrategy } from '@kubernetes/client-node';
import type { Action, ActionContext, ActionOutcome, Plan } from '../types.js';
import type { StepStatus } from '../../api/v1alpha1/schema.js';
import { ERROR_CODES } from '../../util/errors.js';
import { rfc3339 } from '../../util/clock.js';
import { FIELD_MANAGER, RESTARTED_AT_ANNOTATION, STAMP_ANNOTATION, attempt, raw } from './api.js';
import { WORKLOAD_KINDS, annotationsOf, dig, requireWorkload, validateTargetKind } from './workload.js';
import { describeTarget } from '../step-input.js';
import { done, isFailed, refusal, refusedOutcome } from '../outcome.js';
import { isCachedRead, planOnCached, readLive, readObject, sameSpecTests, staleCache } from './reads.js';
import { joinPointer } from './json-pointer.js';
import type { KubeObject } from '../../kube/raw-object.js';

/** Why a workload cannot be restarted now, or undefined. */
export function restartBlocker(obj: KubeObject): string | undefined {
  if (obj.kind === 'Deployment' && dig(obj, 'spec', 'paused') === true) {
    return `Deployment ${obj.metadata?.name} is paused: resume it (kubectl rollout resume) before restarting`;
  }
  return undefined;
}

export function planRestart(obj: KubeObject, now: Date): Plan {
  const blocker = restartBlocker(obj);
  if (blocker) return refusal(ERROR_CODES.actionRefused, 'Paused', blocker);
  const prior = annotationsOf(obj, 'spec', 'template', 'metadata')[RESTARTED_AT_ANNOTATION];
  return {
    before: prior === undefined ? {} : { restartedAt: prior },
    after: { restartedAt: rfc3339(now) },
  };
}

export function restartPatch(restartedAt: string, stamp: string): Record<string, unknown> {
  return {
    spec: {
      template: {
        metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: restartedAt, [STAMP_ANNOTATION]: stamp } },
      },
    },
  };
}

/**
 * The same change as a JSON patch that applies only while the spec is the one of `obj` (a
 * cached read): a 422 otherwise. Where the annotations map is missing, it is added whole.
 */
export function guardedRestartOps(obj: KubeObject, restartedAt: string, stamp: string): unknown[] {
  const annotations = { [RESTARTED_AT_ANNOTATION]: restartedAt, [STAMP_ANNOTATION]: stamp };
  const ops: unknown[] = [...sameSpecTests(obj)];
  if (dig(obj, 'spec', 'template', 'metadata') === undefined)
    ops.push({ op: 'add', path: '/spec/template/metadata', value: { annotations } });
  else if (dig(obj, 'spec', 'template', 'metadata', 'annotations') === undefined)
    ops.push({ op: 'add', path: '/spec/template/metadata/annotations', value: annotations });
  else
    for (const [k, v] of Object.entries(annotations))
      ops.push({
        op: 'add',
        path: joinPointer(['spec', 'template', 'metadata', 'annotations', k]),
        value: v,
      });
  return ops;
}

/** The stamp on the pod template says this attempt's restart already went through. */
export function alreadyRestarted(obj: KubeObject, stamp: string): boolean {
  return annotationsOf(obj, 'spec', 'template', 'metadata')[STAMP_ANNOTATION] === stamp;
}

async function plan(ctx: ActionContext): Promise<Plan> {
  const ref = requireWorkload(ctx);
  if (isFailed(ref)) return refusal(ref.code, ref.reason, ref.message);
  return planOnCached(ctx, ref, (obj) => planRestart(obj, ctx.clock.now()));
}

async function apply(ctx: ActionContext, record: StepStatus): Promise<ActionOutcome> {
  const ref = requireWorkload(ctx);
  if (isFailed(ref)) return ref;
  const restartedAt =
    typeof record.after?.restartedAt === 'string' ? record.after.restartedAt : rfc3339(ctx.clock.now());
  let before: Record<string, unknown> = {};
  let obj = await readObject(ctx, ref);
  for (;;) {
    if (isFailed(obj)) return obj;
    if (alreadyRestarted(obj, ctx.stamp)) {
      return done(`${describeTarget(ref)} was already restarted by this step (stamp ${ctx.stamp})`, {
        before: record.before,
        after: record.after,
      });
    }
    const planned = planRestart(obj, ctx.clock.now());
    const blocked = refusedOutcome(planned);
    if (blocked) return blocked;
    // What this very change overwrites (a resumed step reads afresh: someone may have restarted since).
    before = planned.before ?? {};
    // Planned on the cache: only onto the spec it saw.
    const cached = isCachedRead(obj);
    const body = cached
      ? guardedRestartOps(obj, restartedAt, ctx.stamp)
      : restartPatch(restartedAt, ctx.stamp);
    const contentType = cached ? PatchStrategy.JsonPatch : PatchStrategy.StrategicMergePatch;
    const res = await attempt(describeTarget(ref), () =>
      raw(ctx).patchRaw(ref, body, { contentType, dryRun: ctx.dryRun, fieldManager: FIELD_MANAGER }),
    );
    if (isFailed(res) && staleCache(obj, res)) {
      // The cache was behind: decide again on the object itself.
      obj = await readLive(ctx, ref);
      continue;
    }
    if (isFailed(res)) return res;
    break;
  }
  const after = { restartedAt };
  if (ctx.dryRun)
    return done(`would restart ${describeTarget(ref)} (restartedAt ${restartedAt})`, {
      before,
      after,
      diff: { before, after },
    });
  return done(`restarted ${describeTarget(ref)} (restartedAt ${restartedAt})`, { before, after });
}

export const rolloutRestart: Action = {
  name: 'rolloutRestart',
  mutating: true,
  reversible: false,
  validate: (step) => validateTargetKind(step, WORKLOAD_KINDS),
  plan,
  apply,
};
