/**
 * rolloutRestart: what `kubectl rollout restart` sends (a strategic merge patch of the pod
 * template's `kubectl.kubernetes.io/restartedAt` annotation), plus our stamp in the same
 * annotations, so that one patch both restarts and records that this attempt restarted.
 */
import { PatchStrategy } from '@kubernetes/client-node';
import type { Action, ActionContext, ActionOutcome, Plan } from './types.js';
import type { StepStatus } from '../api/v1alpha1/schema.js';
import { ERROR_CODES } from '../util/errors.js';
import { rfc3339 } from '../util/clock.js';
import {
  FIELD_MANAGER,
  RESTARTED_AT_ANNOTATION,
  STAMP_ANNOTATION,
  WORKLOAD_KINDS,
  annotationsOf,
  attempt,
  describeTarget,
  dig,
  done,
  isFailed,
  planFailure,
  raw,
  readObject,
  refusal,
  refusedOutcome,
  requireWorkload,
  validateTargetKind,
} from './common.js';
import type { KubeObject } from './raw-object.js';

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

/** The stamp on the pod template says this attempt's restart already went through. */
export function alreadyRestarted(obj: KubeObject, stamp: string): boolean {
  return annotationsOf(obj, 'spec', 'template', 'metadata')[STAMP_ANNOTATION] === stamp;
}

async function plan(ctx: ActionContext): Promise<Plan> {
  const ref = requireWorkload(ctx);
  if (isFailed(ref)) return refusal(ref.code, ref.reason, ref.message);
  const obj = await readObject(ctx, ref);
  if (isFailed(obj)) return planFailure(obj);
  return planRestart(obj, ctx.clock.now());
}

async function apply(ctx: ActionContext, record: StepStatus): Promise<ActionOutcome> {
  const ref = requireWorkload(ctx);
  if (isFailed(ref)) return ref;
  const obj = await readObject(ctx, ref);
  if (isFailed(obj)) return obj;
  if (alreadyRestarted(obj, ctx.stamp)) {
    return done(`${describeTarget(ref)} was already restarted by this step (stamp ${ctx.stamp})`, {
      before: record.before,
      after: record.after,
    });
  }
  const blocked = refusedOutcome(planRestart(obj, ctx.clock.now()));
  if (blocked) return blocked;
  const restartedAt =
    typeof record.after?.restartedAt === 'string' ? record.after.restartedAt : rfc3339(ctx.clock.now());
  const res = await attempt(describeTarget(ref), () =>
    raw(ctx).patchRaw(ref, restartPatch(restartedAt, ctx.stamp), {
      contentType: PatchStrategy.StrategicMergePatch,
      dryRun: ctx.dryRun,
      fieldManager: FIELD_MANAGER,
    }),
  );
  if (isFailed(res)) return res;
  const after = { restartedAt };
  const before = record.before ?? {};
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
