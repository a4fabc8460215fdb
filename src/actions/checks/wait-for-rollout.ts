/**
 * waitForRollout: in progress until the workload has observed its newest generation and every
 * replica is updated and ready (the checks of `kubectl rollout status`). While it waits the
 * message says why, and names a crash loop or an OOM kill found on the workload's pods, so a
 * timeout can report the stuck reason. The reconciler owns the timeout.
 */
import type { Action, ActionContext, ActionOutcome, Plan } from '../types.js';
import type { StepStatus } from '../../api/v1alpha1/schema.js';
import {
  WORKLOAD_KINDS,
  dig,
  requireWorkload,
  selectorString,
  validateTargetKind,
} from '../kubernetes/workload.js';
import { describeTarget } from '../step-input.js';
import { done, inProgress, isFailed } from '../outcome.js';
import { failureFromError, raw } from '../kubernetes/api.js';
import { readObject } from '../kubernetes/reads.js';
import type { KubeObject } from '../../kube/raw-object.js';

export interface RolloutState {
  done: boolean;
  /** CamelCase: RolloutComplete, GenerationNotObserved, ProgressDeadlineExceeded, ReplicasNotUpdated, OldReplicasPending, PodsNotReady, CrashLoopBackOff, OOMKilled. */
  reason: string;
  message: string;
}

const num = (v: unknown): number => (typeof v === 'number' ? v : 0);

function waiting(reason: string, message: string): RolloutState {
  return { done: false, reason, message };
}

function generationState(obj: KubeObject): RolloutState | undefined {
  const gen = num(obj.metadata?.generation);
  const observed = num(dig(obj, 'status', 'observedGeneration'));
  if (observed < gen)
    return waiting(
      'GenerationNotObserved',
      `waiting for the controller to observe generation ${gen} (observed ${observed})`,
    );
  return undefined;
}

function deploymentState(obj: KubeObject): RolloutState | undefined {
  const conditions =
    (dig(obj, 'status', 'conditions') as
      { type?: string; reason?: string; message?: string }[] | undefined) ?? [];
  const stuck = conditions.find((c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded');
  if (stuck)
    return waiting(
      'ProgressDeadlineExceeded',
      `rollout exceeded its progress deadline: ${stuck.message ?? ''}`.trim(),
    );
  const want = typeof dig(obj, 'spec', 'replicas') === 'number' ? num(dig(obj, 'spec', 'replicas')) : 1;
  const updated = num(dig(obj, 'status', 'updatedReplicas'));
  const total = num(dig(obj, 'status', 'replicas'));
  const ready = num(dig(obj, 'status', 'readyReplicas'));
  const available = num(dig(obj, 'status', 'availableReplicas'));
  if (updated < want)
    return waiting(
      'ReplicasNotUpdated',
      `${updated} of ${want} replicas updated; ${ready} of ${want} pods ready`,
    );
  if (total > updated)
    return waiting(
      'OldReplicasPending',
      `${total - updated} old replica(s) pending termination; ${ready} of ${want} pods ready`,
    );
  if (ready < want || available < want)
    return waiting('PodsNotReady', `${ready} of ${want} pods ready (${available} available)`);
  return undefined;
}

function statefulSetState(obj: KubeObject): RolloutState | undefined {
  const want = typeof dig(obj, 'spec', 'replicas') === 'number' ? num(dig(obj, 'spec', 'replicas')) : 1;
  const ready = num(dig(obj, 'status', 'readyReplicas'));
  const updated = num(dig(obj, 'status', 'updatedReplicas'));
  const partition = num(dig(obj, 'spec', 'updateStrategy', 'rollingUpdate', 'partition'));
  const onDelete = dig(obj, 'spec', 'updateStrategy', 'type') === 'OnDelete';
  if (ready < want) return waiting('PodsNotReady', `${ready} of ${want} pods ready`);
  if (onDelete) return undefined;
  if (partition > 0) {
    return updated < want - partition
      ? waiting(
          'ReplicasNotUpdated',
          `${updated} of ${want - partition} pods updated (partition ${partition})`,
        )
      : undefined;
  }
  const update = dig(obj, 'status', 'updateRevision');
  if (update !== dig(obj, 'status', 'currentRevision')) {
    return waiting(
      'ReplicasNotUpdated',
      `${updated} of ${want} pods updated to revision ${String(update)}; ${ready} of ${want} pods ready`,
    );
  }
  return undefined;
}

function daemonSetState(obj: KubeObject): RolloutState | undefined {
  const want = num(dig(obj, 'status', 'desiredNumberScheduled'));
  const updated = num(dig(obj, 'status', 'updatedNumberScheduled'));
  const ready = num(dig(obj, 'status', 'numberReady'));
  const available = num(dig(obj, 'status', 'numberAvailable'));
  if (updated < want)
    return waiting(
      'ReplicasNotUpdated',
      `${updated} of ${want} pods updated; ${ready} of ${want} pods ready`,
    );
  if (ready < want || available < want)
    return waiting('PodsNotReady', `${ready} of ${want} pods ready (${available} available)`);
  return undefined;
}

interface ContainerStatus {
  name?: string;
  restartCount?: number;
  state?: { waiting?: { reason?: string }; terminated?: { reason?: string } };
  lastState?: { terminated?: { reason?: string } };
}

/** The worst fault on the pods: OOMKilled first (it also crash-loops), then CrashLoopBackOff. */
export function podFault(pods: readonly KubeObject[]): { reason: string; message: string } | undefined {
  let crash: { reason: string; message: string } | undefined;
  for (const pod of pods) {
    if (pod.metadata?.deletionTimestamp) continue;
    const statuses = [
      ...((dig(pod, 'status', 'initContainerStatuses') as ContainerStatus[] | undefined) ?? []),
      ...((dig(pod, 'status', 'containerStatuses') as ContainerStatus[] | undefined) ?? []),
    ];
    for (const c of statuses) {
      const where = `pod ${pod.metadata?.name} container ${c.name} (restarts ${c.restartCount ?? 0})`;
      if (c.lastState?.terminated?.reason === 'OOMKilled' || c.state?.terminated?.reason === 'OOMKilled') {
        return {
          reason: 'OOMKilled',
          message: `${where} was OOMKilled: raise its memory limit or find the leak`,
        };
      }
      if (!crash && c.state?.waiting?.reason === 'CrashLoopBackOff') {
        crash = { reason: 'CrashLoopBackOff', message: `${where} is in CrashLoopBackOff` };
      }
    }
  }
  return crash;
}

/** Where the rollout of a workload stands, from the workload and its pods (pure). */
export function rolloutState(obj: KubeObject, pods: readonly KubeObject[]): RolloutState {
  const kind = obj.kind ?? '';
  const byKind =
    kind === 'StatefulSet' ? statefulSetState : kind === 'DaemonSet' ? daemonSetState : deploymentState;
  const state = generationState(obj) ?? byKind(obj);
  if (!state)
    return { done: true, reason: 'RolloutComplete', message: `${kind} ${obj.metadata?.name} rolled out` };
  const fault = podFault(pods);
  if (!fault) return state;
  return { done: false, reason: fault.reason, message: `${state.message}; ${fault.message}` };
}

async function plan(_ctx: ActionContext): Promise<Plan> {
  return Promise.resolve({});
}

async function apply(ctx: ActionContext, _record: StepStatus): Promise<ActionOutcome> {
  const ref = requireWorkload(ctx);
  if (isFailed(ref)) return ref;
  const obj = await readObject(ctx, ref);
  // A blip of the API server is no reason to fail a wait; the step timeout still bounds it.
  if (isFailed(obj)) return obj.retryable ? inProgress(`${describeTarget(ref)}: ${obj.message}`) : obj;
  let pods: KubeObject[];
  try {
    const selector = selectorString(dig(obj, 'spec', 'selector'));
    pods = (await raw(ctx).listIn({ apiVersion: 'v1', kind: 'Pod', namespace: ref.namespace }, selector))
      .items;
  } catch (err) {
    return failureFromError(err, `pods of ${describeTarget(ref)}`);
  }
  const state = rolloutState({ kind: ref.kind, ...obj }, pods);
  if (state.done) return done(`${describeTarget(ref)}: ${state.message}`);
  return inProgress(`${describeTarget(ref)}: ${state.reason}: ${state.message}`);
}

export const waitForRollout: Action = {
  name: 'waitForRollout',
  mutating: false,
  reversible: false,
  validate: (step) => validateTargetKind(step, WORKLOAD_KINDS),
  plan,
  apply,
};
