/**
 * What the operator would do with one alert, without a cluster: the same code, driven in
 * memory. The intake's part (matchingRunbooks, planRunbook, the cooldown and rate window of a
 * MemoryLimitStore replayed from a stated history, cooldownRefusal/rateRefusal), then the
 * Remediation controller's part: `next()` of the decision protocol, pass after pass, with each
 * step's plan() run by its action against the given objects (objects.ts). Applies: a change to
 * Kubernetes objects is the action's own apply() (and revert()) on an in-memory copy of the
 * objects, so a later step plans on what an earlier one left; anything outside the cluster
 * (checks, HTTP, Redis, PostgreSQL, notices) gives what the case states, by default a pass.
 * Time is a fake clock that moves only to where the protocol asks to look again (a retry's
 * backoff).
 */
import { ANNOTATIONS, CONDITION_TYPES, REASONS, stepApprovalAnnotation } from '../api/v1alpha1/constants.js';
import type { Remediation, RemediationStatus, Runbook, StepStatus } from '../api/v1alpha1/schema.js';
import { ACTIONS_REGISTRY } from '../actions/index.js';
import { PassReads, type Action, type ActionContext, type ActionOutcome } from '../actions/types.js';
import { notRevertible } from '../actions/outcome.js';
import { findCondition } from '../api/v1alpha1/conditions.js';
import type { ActionInfo, Decision, Observed, PlanResult } from '../controller/remediation/decision.js';
import { next } from '../controller/remediation/protocol.js';
import { readGuard, unreadable, type CheckEvaluator } from '../controller/remediation/guard-read.js';
import { guardToRead } from '../controller/remediation/guards.js';
import { actionInfoOf, RUNBOOK_GUARD } from '../controller/remediation/decision.js';
import type { CheckContext } from '../actions/checks/evaluate.js';
import type { GuardRecord } from '../api/v1alpha1/schema.js';
import { effectiveSafety, stepSpec, stepTarget } from '../controller/remediation/resolve.js';
import { isDryRun } from '../controller/remediation/status.js';
import {
  cooldownRefusal,
  matchingRunbooks,
  planRunbook,
  rateRefusal,
  runbookKey,
  type RunbookPlan,
} from '../intake/plan.js';
import type { WebhookAlert } from '../intake/payload.js';
import type { KubeClients } from '../kube/client.js';
import { apiErrorMessage } from '../kube/client.js';
import { silentLogger, type Logger } from '../observability/logger.js';
import { MemoryLimitStore } from '../stores/memory.js';
import { FakeClock, rfc3339 } from '../util/clock.js';
import { deepEqual } from '../util/deep-equal.js';
import { ERROR_CODES } from '../util/errors.js';
import { validateRunbook } from '../runbook/validate.js';
import { displayTarget } from '../runbook/target.js';

/** An earlier Remediation of a Runbook: what cooldowns, rate windows, loop protection and locks count. */
export interface HistoryEntry {
  /** The Runbook's name (in the namespace of the Runbook under test). */
  runbook: string;
  /** When it was created. */
  at: Date;
  /** `Running` (holds the target and a slot), `Succeeded` or `Failed` (finished at `at`). */
  phase: 'Running' | 'Succeeded' | 'Failed';
  /** `Kind/namespace/name`; default: the target the alert renders to. */
  target?: string;
}

/** What a case states about the world besides the objects. */
export interface Given {
  now: Date;
  history?: readonly HistoryEntry[];
  approvedBy?: string;
  rejectedBy?: string;
  /** Step name → what its apply gives: `pass` (the default) or `fail` with a message. */
  steps?: Readonly<Record<string, { result: 'pass' | 'fail'; message?: string }>>;
  /** Check name → what a guard's read of it gives; default `pass`. */
  checks?: Readonly<Record<string, 'pass' | 'fail' | 'error'>>;
}

export interface StepResult {
  name: string;
  action: string;
  phase: string;
  target?: string;
  before?: Record<string, unknown>;
  after?: Record<string, unknown>;
  message?: string;
}

export interface RunbookResult {
  runbook: string;
  /** created, suppressed_out_of_scope, suppressed_invalid_param, suppressed_cooldown, suppressed_rate_limit, resolved. */
  outcome: string;
  /** Why it was suppressed. */
  message?: string;
  remediation?: {
    name: string;
    params: Record<string, string>;
    target?: string;
    phase: string;
    /** The reason of the condition that ended or holds it (AllStepsSucceeded, AwaitingApproval, ...). */
    reason?: string;
    message?: string;
    steps: StepResult[];
  };
}

export interface AlertResult {
  matched: string[];
  runbooks: RunbookResult[];
}

/**
 * Applies (or reverts) a checkpointed step: offline from what the case states, or a server-side
 * dry run (`plan --cluster`). Every apply and revert of a simulation goes through it.
 */
export type StepRunner = (
  op: 'apply' | 'revert',
  action: Action,
  ctx: ActionContext,
  rec: StepStatus,
) => Promise<ActionOutcome>;

export interface World {
  runbooks: readonly Runbook[];
  /** Clients for one Remediation's run: a fresh in-memory copy of the objects, or the cluster. */
  clients: () => KubeClients;
  /** controller.maxConcurrentRemediations */
  clusterBudget?: number;
  defaultStepTimeoutMs?: number;
}

const MAX_PASSES = 500;
const DEFAULT_CLUSTER_BUDGET = 10;
const DEFAULT_STEP_TIMEOUT_MS = 600_000;

/** The Runbook as the Runbook controller leaves it: Ready=True when valid (else it answers nothing). */
export function asReconciled(rb: Runbook): { runbook: Runbook; problems: string[] } {
  const problems = validateRunbook(rb.spec, rb.metadata.namespace ?? 'default');
  const runbook: Runbook = {
    ...rb,
    metadata: { ...rb.metadata, namespace: rb.metadata.namespace ?? 'default', generation: 1 },
    status: {
      conditions: [
        {
          type: CONDITION_TYPES.ready,
          status: problems.length ? 'False' : 'True',
          reason: problems.length ? REASONS.invalid : REASONS.valid,
          message: problems.join('; ') || 'valid',
          lastTransitionTime: '2026-01-01T00:00:00Z',
        },
      ],
    },
  };
  return { runbook, problems };
}

function actionInfo(name: string): ActionInfo | undefined {
  return actionInfoOf((ACTIONS_REGISTRY as Record<string, Action | undefined>)[name]);
}

/** The actions that change Kubernetes objects: offline they apply to the in-memory copy. */
export const KUBERNETES_CHANGES: ReadonlySet<string> = new Set([
  'rolloutRestart',
  'scale',
  'setEnv',
  'patch',
  'rolloutUndo',
  'deletePod',
]);

/**
 * The offline runner: what the case states for the step; otherwise a Kubernetes change is
 * applied by its action to the in-memory objects and anything else passes.
 */
export function givenOutcomes(given: Given): StepRunner {
  return (op, action, ctx, rec) => {
    // A revert undoes a Kubernetes change on the in-memory copy; anything else has nothing to undo here.
    if (op === 'revert') return revertStep(action, ctx, rec);
    const stated = given.steps?.[rec.name];
    if (stated?.result === 'fail') {
      return Promise.resolve({
        kind: 'failed',
        code: ERROR_CODES.actionFailed,
        reason: REASONS.stepFailed,
        message: stated.message ?? `${rec.name} fails (as the case states)`,
        retryable: true,
      });
    }
    if (!stated && KUBERNETES_CHANGES.has(action.name)) return action.apply(ctx, rec);
    const what = action.mutating ? 'done as planned' : 'passes';
    return Promise.resolve({
      kind: 'done',
      message: `${rec.name} ${what} (${stated ? 'as the case states' : 'the default offline'})`,
      ...(rec.before ? { before: rec.before } : {}),
      ...(rec.after ? { after: rec.after } : {}),
    });
  };
}

/** Earlier Remediations as the controller's peers see them. */
function peersOf(
  rb: Runbook,
  history: readonly HistoryEntry[],
  mainTarget: string | undefined,
): Remediation[] {
  const ns = rb.metadata.namespace ?? 'default';
  return history.map((h, i) => {
    const at = rfc3339(h.at);
    const over = h.phase !== 'Running';
    const status: RemediationStatus = {
      phase: h.phase,
      startedAt: at,
      ...((h.target ?? mainTarget) ? { target: h.target ?? mainTarget } : {}),
      ...(over
        ? {
            completedAt: at,
            conditions: [
              {
                type: CONDITION_TYPES.succeeded,
                status: h.phase === 'Succeeded' ? 'True' : 'False',
                reason: h.phase === 'Succeeded' ? REASONS.allStepsSucceeded : REASONS.stepFailed,
                message: 'history',
                lastTransitionTime: at,
              },
            ],
          }
        : {}),
    };
    return {
      apiVersion: 'kube-remediator.io/v1alpha1',
      kind: 'Remediation',
      metadata: { name: `history-${i + 1}`, namespace: ns, uid: `history-${i + 1}`, creationTimestamp: at },
      spec: { runbookRef: { name: h.runbook } },
      status,
    };
  });
}

/**
 * The cooldown and rate window, as the intake's store would hold them: the history of this
 * Runbook replayed into a MemoryLimitStore at its own times, then this alert's claim and count.
 */
async function admission(
  rb: Runbook,
  plan: Extract<RunbookPlan, { kind: 'create' }>,
  given: Given,
  mainTarget: string | undefined,
): Promise<{ outcome: string; reason: string } | undefined> {
  if (!plan.cooldown && !plan.rate) return undefined;
  const clock = new FakeClock(given.now);
  const store = new MemoryLimitStore({ clock });
  const earlier = (given.history ?? [])
    .filter((h) => h.runbook === rb.metadata.name && h.at.getTime() <= given.now.getTime())
    .sort((a, b) => a.at.getTime() - b.at.getTime());
  const request = (
    owner: string,
    sameTarget: boolean,
  ): Parameters<MemoryLimitStore['claimAndIncrement']>[0] => ({
    ...(plan.cooldown
      ? {
          cooldown: {
            // Another target has a claim of its own, which never holds this one.
            key: sameTarget ? plan.cooldown.key : `${plan.cooldown.key}#${owner}`,
            owner,
            ttlMs: plan.cooldown.ttlMs,
          },
        }
      : {}),
    ...(plan.rate ? { rate: { key: plan.rate.key, windowMs: plan.rate.windowMs } } : {}),
  });
  for (const [i, h] of earlier.entries()) {
    clock.set(h.at);
    await store.claimAndIncrement(request(`history-${i + 1}`, (h.target ?? mainTarget) === mainTarget));
  }
  clock.set(given.now);
  const taken = await store.claimAndIncrement(request(plan.name, true));
  return cooldownRefusal(rb, plan, taken.claim) ?? rateRefusal(plan, taken.count);
}

/** What the operator does with one alert: which Runbooks match and, for each, what follows. */
export async function simulateAlert(
  world: World,
  alert: WebhookAlert,
  given: Given,
  run: StepRunner = givenOutcomes(given),
): Promise<AlertResult> {
  const matched = matchingRunbooks(world.runbooks, alert);
  const runbooks: RunbookResult[] = [];
  for (const rb of matched) {
    if (alert.status === 'resolved') {
      runbooks.push({
        runbook: runbookKey(rb),
        outcome: 'resolved',
        message: 'the Remediation of this occurrence is marked for revert',
      });
      continue;
    }
    runbooks.push(await simulateRunbook(world, rb, alert, given, run));
  }
  return { matched: matched.map(runbookKey), runbooks };
}

/** The Remediation the intake would create, with the case's approvals as its annotations. */
function givenRemediation(
  plan: Extract<RunbookPlan, { kind: 'create' }>,
  rb: Runbook,
  given: Given,
): Remediation {
  const annotations: Record<string, string> = {};
  if (given.approvedBy) {
    // The person approves the run and every step that asks for approval (requireApproval).
    annotations[ANNOTATIONS.approvedBy] = given.approvedBy;
    for (const st of rb.spec.steps)
      if (st.requireApproval) annotations[stepApprovalAnnotation(st.name)] = given.approvedBy;
  }
  if (given.rejectedBy) annotations[ANNOTATIONS.rejectedBy] = given.rejectedBy;
  return {
    ...plan.remediation,
    metadata: {
      ...plan.remediation.metadata,
      uid: `uid-${plan.name}`,
      creationTimestamp: rfc3339(given.now),
      annotations,
    },
  };
}

interface OfflineEnv {
  clients: KubeClients;
  clock: FakeClock;
  log: Logger;
  given: Given;
  run: StepRunner;
}

/** The side effect a decision asks for, done offline (guards and escalations as the case states). */
async function applyOffline(obs: Observed, d: Decision, env: OfflineEnv): Promise<RemediationStatus> {
  const { clock } = env;
  if (d.op.kind === 'guard') {
    // A guard's checks give what the case states (`given.checks`), by default Met.
    const evaluation = await givenGuard(obs, d, env.given, clock);
    return next(obs, { op: d.op, evaluation }).status;
  }
  if (d.op.kind === 'escalate') {
    const outcome: ActionOutcome = { kind: 'done', message: 'escalation sent (offline: not sent)' };
    return next(obs, { op: d.op, outcome, at: clock.now() }).status;
  }
  if (d.op.kind === 'none') return d.status;
  const rec = d.status.steps![d.op.index]!;
  const action = (ACTIONS_REGISTRY as Record<string, Action | undefined>)[rec.action]!;
  const ctx = context(env.clients, obs, d, d.op.index, d.op.attempt, clock, env.log);
  if (d.op.kind === 'plan') return next(obs, { op: d.op, result: await planStep(action, ctx) }).status;
  // Offline every revert is checkpointed and run (its outcome says when nothing was restored).
  if (d.op.kind === 'checkRevert')
    return next(obs, { op: d.op, nothingToDo: undefined, at: clock.now() }).status;
  const outcome = await env.run(d.op.kind, action, ctx, rec);
  return next(obs, { op: d.op, outcome, at: clock.now() }).status;
}

async function simulateRunbook(
  world: World,
  rb: Runbook,
  alert: WebhookAlert,
  given: Given,
  run: StepRunner,
): Promise<RunbookResult> {
  const key = runbookKey(rb);
  const plan = planRunbook(rb, alert);
  if (plan.kind === 'refuse') return { runbook: key, outcome: plan.outcome, message: plan.reason };
  const ns = rb.metadata.namespace ?? 'default';
  const main = plan.remediation.spec.target;
  const mainKey = main?.namespace ? `${main.kind}/${main.namespace}/${main.name}` : undefined;
  const refused = await admission(rb, plan, given, mainKey);
  if (refused) return { runbook: key, outcome: refused.outcome, message: refused.reason };

  let rem = givenRemediation(plan, rb, given);
  const peers = peersOf(rb, given.history ?? [], mainKey ? displayTarget(parseKey(mainKey), ns) : undefined);
  const env: OfflineEnv = {
    clients: world.clients(),
    clock: new FakeClock(given.now),
    log: silentLogger(),
    given,
    run,
  };
  let idle = 0;
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const obs: Observed = {
      remediation: rem,
      runbook: rb,
      runbookProblems: [],
      peers,
      actionInfo,
      config: {
        maxConcurrentRemediations: world.clusterBudget ?? DEFAULT_CLUSTER_BUDGET,
        defaultStepTimeoutMs: world.defaultStepTimeoutMs ?? DEFAULT_STEP_TIMEOUT_MS,
      },
      now: env.clock.now(),
    };
    const d = next(obs);
    if (d.op.kind !== 'none') {
      idle = 0;
      rem = { ...rem, status: await applyOffline(obs, d, env) };
      continue;
    }
    const unchanged = deepEqual(d.status, rem.status);
    rem = { ...rem, status: d.status };
    // A person is asked: the case stops where it waits (not at the approval's deadline).
    if (d.status.phase === 'AwaitingApproval') break;
    // Waiting for something that never comes offline (a person, a slot): stop where it holds.
    if (unchanged && ++idle >= 2) break;
    if (d.requeueAfterMs === undefined) {
      if (unchanged) break;
      continue;
    }
    env.clock.advance(Math.max(d.requeueAfterMs, 1));
  }
  return { runbook: key, outcome: 'created', remediation: summary(rem, ns) };
}

const GIVEN_RESULT = { pass: 'Met', fail: 'NotMet', error: 'Error' } as const;

/** A guard read offline: each check gives what `given.checks` states for its name, else Met. */
async function givenGuard(obs: Observed, d: Decision, given: Given, clock: FakeClock): Promise<GuardRecord> {
  const what = guardToRead(obs, d.status, d.op.kind === 'guard' ? d.op.index : RUNBOOK_GUARD);
  if ('error' in what) return unreadable(what.error, clock.now());
  const evaluate: CheckEvaluator = (check) => {
    const stated = given.checks?.[check.name];
    const result = stated ? GIVEN_RESULT[stated] : 'Met';
    return Promise.resolve({ result, message: `${check.name}: ${result} (as the case states)` });
  };
  return readGuard(what.guard.checks, {} as CheckContext, evaluate, () => clock.now());
}

function parseKey(key: string): { kind: string; namespace: string; name: string } {
  const [kind = '', namespace = '', name = ''] = key.split('/');
  return { kind, namespace, name };
}

/** plan(), as the reconciler calls it: any error but a refusal fails the attempt. */
async function planStep(action: Action, ctx: ActionContext): Promise<PlanResult> {
  try {
    return { plan: await action.plan(ctx) };
  } catch (err) {
    return {
      error: { reason: REASONS.stepFailed, message: `plan failed: ${apiErrorMessage(err)}`, retryable: true },
    };
  }
}

/** A revert, as the reconciler runs it: the action's revert(). */
export async function revertStep(
  action: Action,
  ctx: ActionContext,
  rec: StepStatus,
): Promise<ActionOutcome> {
  if (!action.revert) return notRevertible(action);
  try {
    return await action.revert(ctx, rec);
  } catch (err) {
    return {
      kind: 'failed',
      message: apiErrorMessage(err),
      code: ERROR_CODES.actionFailed,
      reason: REASONS.revertFailed,
      retryable: true,
    };
  }
}

function context(
  clients: KubeClients,
  obs: Observed,
  d: Decision,
  index: number,
  attempt: number,
  clock: FakeClock,
  log: ReturnType<typeof silentLogger>,
): ActionContext {
  const rem = obs.remediation;
  const rec = d.status.steps![index]!;
  const target = stepTarget(rec);
  const bounds = effectiveSafety(rem, obs.runbook)?.bounds;
  return {
    clients,
    remediation: rem,
    stepIndex: index,
    step: stepSpec(rec),
    ...(target ? { target } : {}),
    ...(bounds ? { bounds } : {}),
    dryRun: isDryRun(rem, d.status),
    attempt,
    stamp: `${rem.metadata.uid ?? ''}/${index}/${attempt}`,
    clock,
    log,
    reads: new PassReads(),
    readSecret: () => Promise.reject(new Error('secrets are not read offline')),
  };
}

function summary(rem: Remediation, ns: string): NonNullable<RunbookResult['remediation']> {
  const s = rem.status ?? {};
  // The condition that says where it stands: the end, else what holds it.
  const c = s.conditions;
  const holding =
    findCondition(c, CONDITION_TYPES.succeeded) ??
    [
      findCondition(c, CONDITION_TYPES.approved),
      findCondition(c, CONDITION_TYPES.blocked),
      findCondition(c, CONDITION_TYPES.progressing),
    ].find((x) => x && (x.type === CONDITION_TYPES.blocked ? x.status === 'True' : x.status === 'False'));
  return {
    name: rem.metadata.name ?? '',
    params: rem.spec.params ?? {},
    ...(rem.spec.target
      ? { target: `${rem.spec.target.kind}/${rem.spec.target.namespace ?? ns}/${rem.spec.target.name}` }
      : {}),
    phase: s.phase ?? 'Pending',
    ...(holding?.reason ? { reason: holding.reason } : {}),
    ...(holding?.message ? { message: holding.message } : {}),
    // onResolve's steps once they run (they wait, Pending, until the alert resolves).
    steps: (s.steps ?? []).filter((r) => !r.stage || r.phase !== 'Pending').map(stepResult),
  };
}

function stepResult(rec: StepStatus): StepResult {
  return {
    name: rec.name,
    action: rec.action,
    phase: rec.phase ?? 'Pending',
    ...(rec.target ? { target: rec.target } : {}),
    ...(rec.before ? { before: rec.before } : {}),
    ...(rec.after ? { after: rec.after } : {}),
    ...(rec.message ? { message: rec.message } : {}),
  };
}
