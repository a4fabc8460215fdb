/**
 * What a GitOps controller would put back, per action (pure): the steps that need the owner's
 * self-heal paused under `gitops.policy: Pause`, and the ones that may go on without it.
 */
import type { ActionName } from '../api/v1alpha1/schema.js';
import type { GitOpsController } from './detect.js';

/**
 * Whether `controller` would undo what `action` changes on an object it deploys.
 * - scale, setEnv, patch, rolloutUndo change fields Git declares (replicas, env, the pod
 *   template): self-heal puts Git's value back within seconds (Argo CD), or at the next
 *   interval (Flux).
 * - rolloutRestart adds `kubectl.kubernetes.io/restartedAt` to the pod template, which Git
 *   does not declare. Argo CD compares only the fields Git declares (and its last apply), so it
 *   leaves it. Flux's server-side apply removes fields written by other managers it does not
 *   know, which rolls the pods a second time (fluxcd/flux2#2526): it needs the pause under Flux.
 * - deletePod deletes a Pod, which no GitOps tool declares; calls and checks change nothing
 *   in the cluster's objects.
 */
export function gitopsWouldRevert(action: ActionName, controller: GitOpsController): boolean {
  switch (action) {
    case 'scale':
    case 'setEnv':
    case 'patch':
    case 'rolloutUndo':
      return true;
    case 'rolloutRestart':
      return controller === 'Flux';
    default:
      return false;
  }
}

/** Actions whose change the drift check can read back (their plan's `before` has the shape of their `after`). */
export const DRIFT_ACTIONS: ReadonlySet<ActionName> = new Set<ActionName>(['scale', 'setEnv', 'patch']);

/** A recorded value without the bookkeeping that only `before` carries (setEnv's list `index`). */
export function comparable(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(comparable);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>))
      if (k !== 'index') out[k] = comparable(x);
    return out;
  }
  return v;
}
