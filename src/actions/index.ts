/**
 * The actions, by name, in three groups: `kubernetes/` changes objects in the cluster, `calls/`
 * changes something elsewhere (HTTP, Redis, PostgreSQL, Alertmanager), `checks/` only looks
 * (and `checks/evaluate.ts` evaluates one Check of a guard or hold with the same reads).
 * `services/` holds the clients calls and checks share; `outcome.ts` and `step-input.ts` what
 * every action uses. The reconciler runs a step as:
 *   plan(ctx)            reads only; returns before/after, or `refused` (never apply a refused
 *                        plan). Throws RemediatorError on transient API errors (retry later).
 *   checkpoint           the reconciler stores the plan in status.steps[i]
 *   apply(ctx, record)   idempotent; `inProgress` for waits and checks, `done` or `failed`
 *   revert(ctx, record)  only where `reversible`, from record.before
 * Everything mutating honours ctx.dryRun (Kubernetes: dryRun=All; outside services: skipped)
 * and then returns the would-be change in `diff`.
 */
import { ACTIONS, type ActionName, type Step } from '../api/v1alpha1/schema.js';
import type { Action } from './types.js';
import { deletePod } from './kubernetes/delete-pod.js';
import { httpCall } from './calls/http-call.js';
import { httpCheck } from './checks/http-check.js';
import { notify } from './calls/notify.js';
import { patch } from './kubernetes/patch.js';
import { podLogs } from './checks/pod-logs.js';
import { postgresCheck } from './checks/postgres-check.js';
import { postgresQuery } from './calls/postgres-query.js';
import { prometheusQuery } from './checks/prometheus-query.js';
import { redisCheck } from './checks/redis-check.js';
import { redisCommand } from './calls/redis-command.js';
import { rolloutRestart } from './kubernetes/rollout-restart.js';
import { rolloutUndo } from './kubernetes/rollout-undo.js';
import { scale } from './kubernetes/scale.js';
import { setEnv } from './kubernetes/set-env.js';
import { silence } from './calls/silence.js';
import { waitForRollout } from './checks/wait-for-rollout.js';
import { hold, waitUntil } from './checks/hold.js';
import { gitopsPause } from './kubernetes/gitops-pause.js';

export const ACTIONS_REGISTRY: Record<ActionName, Action> = {
  rolloutRestart,
  scale,
  setEnv,
  patch,
  rolloutUndo,
  deletePod,
  waitForRollout,
  httpCheck,
  httpCall,
  redisCheck,
  redisCommand,
  postgresCheck,
  postgresQuery,
  prometheusQuery,
  notify,
  silence,
  podLogs,
  hold,
  waitUntil,
  gitopsPause,
};

export function getAction(name: ActionName): Action;
export function getAction(name: string): Action | undefined;
export function getAction(name: string): Action | undefined {
  return Object.prototype.hasOwnProperty.call(ACTIONS_REGISTRY, name)
    ? ACTIONS_REGISTRY[name as ActionName]
    : undefined;
}

/** Actions that need a Kubernetes target (step.target or the Runbook's). */
export const TARGETED_ACTIONS: ReadonlySet<ActionName> = new Set([
  'rolloutRestart',
  'scale',
  'setEnv',
  'patch',
  'rolloutUndo',
  'waitForRollout',
  'podLogs',
]);

/**
 * The problems of one step's parameters, as `<field>: <what is wrong>` (the caller prefixes
 * `steps[i].`). Also flags parameter members of other actions, which would be ignored.
 */
export function validateStep(step: Step): string[] {
  const action = getAction(step.action);
  if (!action) return [`action: unknown action ${String(step.action)}`];
  const strays = ACTIONS.filter((a) => a !== step.action && step[a] !== undefined).map(
    (a) => `${a}: parameters for action ${a} are set, but the step's action is ${step.action}`,
  );
  return [...action.validate(step), ...strays];
}

export { rolloutState, podFault, type RolloutState } from './checks/wait-for-rollout.js';
export { checkPatchBounds, checkReplicas, type BoundViolation } from './kubernetes/bounds.js';
export { parseQuantity, compareQuantity } from './kubernetes/quantity.js';
export type { Action, ActionContext, ActionOutcome, Plan, ResolvedTarget } from './types.js';
