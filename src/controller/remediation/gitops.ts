/**
 * GitOps rules of a run (pure; the reads are the reconciler's, in `obs.gitops`):
 *
 * - the start gate `gitopsOwners` (after the steps are copied): when a target the steps change
 *   is deployed by Argo CD or Flux, it records who (status.gitops) and applies the policy:
 *   Refuse ends the run Skipped before anything changes; Pause puts one `gitopsPause` step per
 *   owner first (only for owners of a change that GitOps would put back, src/gitops/policy.ts);
 *   Coexist goes on, writing as field manager kube-remediator like every change;
 * - the stage `decideGitops` (every pass of a started run): the GitOpsPaused condition, the
 *   release of a pause that must end although no revert runs (the run failed; maxPause), and
 *   the drift watch of a finished run.
 * The pause step is a step like any other: planned and checkpointed before it is applied, and
 * its revert (the restore) is checkpointed as Reverting before it runs. A revert of the run
 * (on resolve, onFailure.revert) unwinds it last, after the changes it protected.
 */
import { CONDITION_TYPES, EVENT_REASONS, REASONS } from '../../api/v1alpha1/constants.js';
import type {
  DriftRecord,
  GitOpsOwnerRecord,
  GitOpsPolicy,
  RemediationStatus,
  StepStatus,
} from '../../api/v1alpha1/schema.js';
import { DRIFT_ACTIONS, comparable, gitopsWouldRevert } from '../../gitops/policy.js';
import { targetKey } from '../../runbook/target.js';
import { rfc3339 } from '../../util/clock.js';
import { deepEqual } from '../../util/deep-equal.js';
import { formatDuration, parseDuration } from '../../util/duration.js';
import { findCondition } from '../../api/v1alpha1/conditions.js';
import { CHECKPOINT_REQUEUE_MS, type Decision, type GitOpsConfig, type Observed } from './decision.js';
import { runStepGates, type StartGate } from './gates.js';
import { auditNote, eventNote, type GateView, type Pass } from './pass.js';
import { stepSpec } from './resolve.js';
import { BEFORE_REVERT } from './step-gates.js';

export const PAUSE_STEP = 'gitops-pause';

/** The policy and maximum pause in force: the Runbook's, else the operator's defaults. */
export function gitopsSettings(
  obs: Pick<Observed, 'runbook' | 'config'>,
  cfg: GitOpsConfig,
): { policy: GitOpsPolicy; maxPause: string } {
  const own = obs.runbook?.spec.gitops;
  return { policy: own?.policy ?? cfg.defaultPolicy, maxPause: own?.maxPause ?? cfg.defaultMaxPause };
}

function ownerKeyOf(o: GitOpsOwnerRecord): string {
  return `${o.kind}/${o.namespace}/${o.name}`;
}

function describeOwners(owners: readonly GitOpsOwnerRecord[]): string {
  return owners.map((o) => `${o.target} (${o.controller} ${ownerKeyOf(o)}, from its ${o.via})`).join(', ');
}

function uniqueName(taken: ReadonlySet<string>, base: string): string {
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) if (!taken.has(`${base}-${i}`)) return `${base}-${i}`;
}

/**
 * The `gitopsPause` steps for `steps` (pure): one per owner of a step whose change its
 * controller would put back, in the owners' order; [] when no step needs one.
 */
export function pauseSteps(
  steps: readonly StepStatus[],
  owners: readonly GitOpsOwnerRecord[],
  maxPause: string,
): StepStatus[] {
  const byOwner = new Map<string, { owner: GitOpsOwnerRecord; targets: Set<string> }>();
  for (const rec of steps) {
    const owner = owners.find((o) => o.target === rec.target);
    if (!owner || !gitopsWouldRevert(rec.action, owner.controller)) continue;
    const k = ownerKeyOf(owner);
    const entry = byOwner.get(k) ?? { owner, targets: new Set<string>() };
    entry.targets.add(owner.target);
    byOwner.set(k, entry);
  }
  const taken = new Set(steps.map((r) => r.name));
  const out: StepStatus[] = [];
  for (const { owner, targets } of byOwner.values()) {
    const name = uniqueName(taken, PAUSE_STEP);
    taken.add(name);
    const target = {
      apiVersion: owner.apiVersion,
      kind: owner.kind,
      namespace: owner.namespace,
      name: owner.name,
    };
    out.push({
      name,
      action: 'gitopsPause',
      phase: 'Pending',
      target: targetKey(target),
      spec: {
        name,
        action: 'gitopsPause',
        target,
        // Undone with the run's other reverts, last (reverts unwind in reverse order).
        revertOnResolve: true,
        gitopsPause: { controller: owner.controller, maxPause, targets: [...targets] },
      },
    });
  }
  return out;
}

/** Before the first step: who deploys the targets, and what the policy makes of it. */
export const gitopsOwners: StartGate = (p) => {
  const cfg = p.obs.config.gitops;
  const owners = p.obs.gitops?.owners;
  if (!cfg || !owners || owners.length === 0 || p.s.gitops) return undefined;
  const { policy, maxPause } = gitopsSettings(p.obs, cfg);
  const who = describeOwners(owners);
  if (policy === 'Refuse') {
    const message = `nothing was changed: ${who} is deployed by GitOps and gitops.policy is Refuse (Pause or Coexist would act; see README, GitOps)`;
    return {
      kind: 'end',
      status: { gitops: { policy, owners, message } },
      reason: REASONS.gitopsManaged,
      message,
      notes: [
        eventNote('Warning', EVENT_REASONS.gitopsManaged, message),
        ...(p.mainTarget()
          ? [
              eventNote(
                'Warning',
                EVENT_REASONS.gitopsManaged,
                `kube-remediator: refused, ${message}`,
                p.mainTarget(),
              ),
            ]
          : []),
        auditNote('finished', message, {
          phase: 'Skipped',
          details: { reason: REASONS.gitopsManaged, owners },
        }),
      ],
    };
  }
  if (policy === 'Coexist') {
    const message = `${who} is deployed by GitOps; gitops.policy is Coexist: changing it as field manager kube-remediator (Argo CD keeps the change only with ignoreDifferences.managedFieldsManagers and RespectIgnoreDifferences=true)`;
    return { kind: 'go', status: { gitops: { policy, owners, message } } };
  }
  const steps = p.s.steps ?? [];
  const pauses = p.dryRun ? [] : pauseSteps(steps, owners, maxPause);
  const message = p.dryRun
    ? `${who} is deployed by GitOps; a real run would pause its self-heal first (dry run: nothing paused)`
    : pauses.length === 0
      ? `${who} is deployed by GitOps, but no step changes what it would put back (deletePod, rolloutRestart under Argo CD, calls and checks): nothing paused`
      : `${who} is deployed by GitOps; its self-heal is paused first (${pauses.map((r) => r.target).join(', ')}), for ${maxPause} at most`;
  return {
    kind: 'go',
    status: {
      gitops: { policy, owners, message },
      ...(pauses.length ? { steps: [...pauses, ...steps] } : {}),
    },
  };
};

function pauseDeadline(rec: StepStatus): number | undefined {
  if (!rec.finishedAt) return undefined;
  const max = (stepSpec(rec) as { gitopsPause?: { maxPause?: string } }).gitopsPause?.maxPause;
  return max ? Date.parse(rec.finishedAt) + parseDuration(max) : undefined;
}

/** Something was paused (not "nothing to pause"). */
function pausedSomething(rec: StepStatus): boolean {
  return typeof (rec.after as { path?: unknown } | undefined)?.path === 'string';
}

/** The GitOpsPaused condition, from the pause steps (an Event when it flips). */
function markPause(p: Pass): void {
  const pauses = (p.s.steps ?? []).filter((r) => r.action === 'gitopsPause' && pausedSomething(r));
  if (pauses.length === 0) return;
  const held = pauses.filter((r) => r.phase === 'Succeeded' || r.phase === 'Reverting');
  if (held.length > 0) {
    const until = Math.min(...held.map((r) => pauseDeadline(r) ?? Infinity));
    const msg = `self-heal paused on ${held.map((r) => r.target).join(', ')}${Number.isFinite(until) ? ` until ${rfc3339(new Date(until))} at the latest` : ''}`;
    if (
      p.cond({
        type: CONDITION_TYPES.gitopsPaused,
        status: 'True',
        reason: REASONS.gitopsPaused,
        message: msg,
      })
    )
      p.event('Normal', EVENT_REASONS.gitopsPaused, msg);
    return;
  }
  const msg = `self-heal restored on ${pauses.map((r) => r.target).join(', ')}`;
  if (
    p.cond({
      type: CONDITION_TYPES.gitopsPaused,
      status: 'False',
      reason: REASONS.gitopsRestored,
      message: msg,
    })
  )
    p.event('Normal', EVENT_REASONS.gitopsRestored, msg);
}

/** Why a held pause must end now, though no revert of the run undoes it; undefined: it stays. */
function releaseReason(p: Pass, rec: StepStatus): { message: string; maxPause: boolean } | undefined {
  const deadline = pauseDeadline(rec);
  if (deadline !== undefined && p.now.getTime() >= deadline) {
    const max = formatDuration(deadline - Date.parse(rec.finishedAt ?? p.nowText));
    return {
      maxPause: true,
      message: `gitops.maxPause (${max}) reached: restoring ${rec.target ?? ''} although the change may still be in place; GitOps will put Git's values back`,
    };
  }
  const succeeded = findCondition(p.s.conditions, CONDITION_TYPES.succeeded);
  if (succeeded?.status === 'False') return { maxPause: false, message: 'the run is over without success' };
  if (findCondition(p.s.conditions, CONDITION_TYPES.reverted))
    return { maxPause: false, message: 'the revert is over' };
  if (deadline !== undefined) p.requeue(deadline - p.now.getTime() + 50);
  return undefined;
}

/**
 * The release of a pause outside the run's revert: checkpoint (Reverting) first, then the
 * revert operation in a later pass, like every revert.
 */
function release(p: Pass): Decision | undefined {
  // A revert of the run is under way: it unwinds the pause itself, last.
  if (findCondition(p.s.conditions, CONDITION_TYPES.reverted)?.status === 'Unknown') return undefined;
  const steps = p.s.steps ?? [];
  for (const [idx, rec] of steps.entries()) {
    if (rec.action !== 'gitopsPause') continue;
    if (rec.phase === 'Reverting') {
      const stop = runStepGates(p, idx, BEFORE_REVERT);
      if (stop && 'decision' in stop) return stop.decision;
      return p.done({ kind: 'revert', index: idx, attempt: rec.attempt ?? 1 });
    }
    // A failed pause may still have landed (its check came after): released too, idempotently.
    if (rec.phase !== 'Succeeded' && !(rec.phase === 'Failed' && rec.before)) continue;
    const why = releaseReason(p, rec);
    if (!why) continue;
    rec.revertedFrom = rec.phase === 'Failed' ? 'Failed' : 'Succeeded';
    rec.phase = 'Reverting';
    rec.revertAttempt = 1;
    delete rec.nextAttemptAt;
    rec.message = `restore started: ${why.message}`;
    if (why.maxPause) {
      p.event('Warning', EVENT_REASONS.gitopsRestored, why.message);
      p.audit('step_started', why.message, {
        step: rec.name,
        phase: 'Reverting',
        details: { reason: REASONS.gitopsMaxPause },
      });
    } else {
      p.event('Normal', EVENT_REASONS.reverting, `restoring ${rec.target ?? ''}: ${why.message}`);
      p.audit('step_started', `restore of ${rec.name} started: ${why.message}`, {
        step: rec.name,
        phase: 'Reverting',
      });
    }
    p.requeue(CHECKPOINT_REQUEUE_MS);
    return p.done();
  }
  return undefined;
}

/** Whether a finished run still watches its changes for drift (pure; also asked before the reads). */
function watching(s: Readonly<RemediationStatus>, now: Date, cfg: GitOpsConfig | undefined): boolean {
  if (!cfg || !s.gitops?.owners?.length || s.dryRun) return false;
  if (findCondition(s.conditions, CONDITION_TYPES.succeeded)?.status !== 'True') return false;
  if (findCondition(s.conditions, CONDITION_TYPES.reverted)) return false;
  return s.gitops.watchUntil === undefined || now.getTime() < Date.parse(s.gitops.watchUntil);
}

/** The steps whose targets a pass re-reads for drift: done changes on GitOps-deployed targets, not yet seen drifted. */
export function driftCandidates(
  s: Readonly<RemediationStatus> | undefined,
  now: Date,
  cfg: GitOpsConfig | undefined,
): number[] {
  if (!s || !watching(s, now, cfg)) return [];
  const owned = new Set((s.gitops?.owners ?? []).map((o) => o.target));
  const seen = new Set((s.gitops?.drift ?? []).map((d) => d.step));
  const out: number[] = [];
  for (const [i, rec] of (s.steps ?? []).entries()) {
    if (rec.phase !== 'Succeeded' || !DRIFT_ACTIONS.has(rec.action) || !rec.after) continue;
    if (rec.target && owned.has(rec.target) && !seen.has(rec.name)) out.push(i);
  }
  return out;
}

/** The changed values no longer hold what the step set (pure). */
export function drifted(
  after: Record<string, unknown> | undefined,
  found: Record<string, unknown> | undefined,
): boolean {
  if (!after || !found) return false;
  return !deepEqual(comparable(after), comparable(found));
}

function watchDrift(p: Pass, cfg: GitOpsConfig): void {
  const s = p.s;
  if (!watching(s, p.now, cfg) || !s.gitops) return;
  if (s.gitops.watchUntil === undefined) {
    const ends = (s.steps ?? []).map((r) => (r.action === 'gitopsPause' ? (pauseDeadline(r) ?? 0) : 0));
    const from = Math.max(Date.parse(s.completedAt ?? p.nowText), ...ends);
    s.gitops.watchUntil = rfc3339(new Date(from + cfg.driftWatchMs));
  }
  const found: DriftRecord[] = [];
  for (const c of p.obs.gitops?.current ?? []) {
    const rec = s.steps?.[c.index];
    if (!rec || !driftCandidates(s, p.now, cfg).includes(c.index)) continue;
    if (!drifted(rec.after, c.found)) continue;
    found.push({
      step: rec.name,
      ...(rec.target ? { target: rec.target } : {}),
      at: p.nowText,
      ...(rec.after ? { expected: rec.after } : {}),
      ...(c.found ? { found: comparable(c.found) as Record<string, unknown> } : {}),
    });
  }
  if (found.length > 0) {
    s.gitops.drift = [...(s.gitops.drift ?? []), ...found];
    const msg = `changed back by someone else (GitOps self-heal?): ${found
      .map(
        (d) =>
          `step ${d.step} on ${d.target ?? ''} set ${JSON.stringify(d.expected)}, now ${JSON.stringify(d.found)}`,
      )
      .join('; ')}`;
    p.cond({ type: CONDITION_TYPES.drifted, status: 'True', reason: REASONS.changedBack, message: msg });
    s.message = `the steps succeeded, but their change did not stay: ${msg}`;
    p.event('Warning', EVENT_REASONS.drifted, msg);
    for (const d of found)
      p.audit('step_finished', `drift: ${d.step} changed back`, {
        step: d.step,
        phase: 'Drifted',
        details: { expected: d.expected, found: d.found },
      });
  }
  if (driftCandidates(s, p.now, cfg).length > 0) {
    const left = Date.parse(s.gitops.watchUntil) - p.now.getTime();
    p.requeue(Math.max(1, Math.min(cfg.driftCheckIntervalMs, left + 50)));
  }
}

/** The GitOps stage of a started run: the pause condition, a due release, the drift watch. */
export function decideGitops(p: Pass): Decision | undefined {
  const cfg = p.obs.config.gitops;
  if (!cfg || !p.s.gitops) return undefined;
  markPause(p);
  const d = release(p);
  if (d) return d;
  watchDrift(p, cfg);
  return undefined;
}

/** Whether a pass must gather the owners (before the steps are copied) or drift reads. */
export function gitopsNeedsOwners(view: Pick<GateView, 's'>, cfg: GitOpsConfig | undefined): boolean {
  return cfg !== undefined && !view.s.startedAt && !view.s.gitops;
}
