/**
 * The forward stage: the start transition once the start gates let a Remediation through, then
 * its steps in order, each planned (and checkpointed) and then applied.
 */
import { CONDITION_TYPES, EVENT_REASONS, REASONS } from '../../api/v1alpha1/constants.js';
import { findCondition } from '../../api/v1alpha1/conditions.js';
import { TIMEOUT_SLACK_MS, type Decision } from './decision.js';
import { finishFailed, finishSucceeded } from './finish.js';
import { runStepGates } from './gates.js';
import { remediationName, type Pass } from './pass.js';
import { failStep } from './record.js';
import { stepTimeoutMs } from './retry.js';
import { stepSpec } from './resolve.js';
import { BEFORE_APPLY, BEFORE_PLAN } from './step-gates.js';

/** Every start gate let it through: Running, with the Events that say so. */
export function start(p: Pass): void {
  const { s, rem, obs } = p;
  s.startedAt = p.nowText;
  s.dryRun = rem.spec.dryRun === true;
  if (findCondition(s.conditions, CONDITION_TYPES.blocked)) {
    p.cond({
      type: CONDITION_TYPES.blocked,
      status: 'False',
      reason: REASONS.started,
      message: 'no longer blocked',
    });
  }
  p.cond({
    type: CONDITION_TYPES.progressing,
    status: 'True',
    reason: REASONS.started,
    message: `started ${s.steps?.length ?? 0} steps${p.dryRun ? ' (dry run)' : ''}`,
  });
  const what = obs.runbook ? `runbook ${obs.runbook.metadata.name ?? ''}` : 'inline steps';
  p.event(
    'Normal',
    EVENT_REASONS.started,
    `started ${p.dryRun ? 'dry run of ' : ''}${what}${s.target ? ` on ${s.target}` : ''}`,
  );
  const target = p.mainTarget();
  if (target && !p.dryRun)
    p.event(
      'Normal',
      EVENT_REASONS.started,
      `kube-remediator: remediation ${remediationName(rem)} started`,
      target,
    );
}

function running(p: Pass, label: string): void {
  p.cond({
    type: CONDITION_TYPES.progressing,
    status: 'True',
    reason: REASONS.stepRunning,
    message: `${label} running`,
  });
}

/**
 * The next step's operation, or the end of the run. Undefined when every step is done (the
 * run just succeeded): a revert asked for meanwhile may start in the same pass.
 */
export function decideForward(p: Pass): Decision | undefined {
  const steps = p.s.steps ?? [];
  const failed = steps.find((r) => r.phase === 'Failed' && !stepSpec(r)?.continueOnFailure);
  if (failed)
    return finishFailed(p, REASONS.stepFailed, `step ${failed.name} failed: ${failed.message ?? ''}`);
  const idx = steps.findIndex((r) => r.phase === 'Pending' || r.phase === 'Running');
  if (idx < 0) {
    finishSucceeded(p);
    return undefined;
  }
  const rec = steps[idx]!;
  const label = `step ${idx + 1}/${steps.length} (${rec.name})`;

  if (rec.phase === 'Pending') {
    const stop = runStepGates(p, idx, BEFORE_PLAN);
    if (stop && 'decision' in stop) return stop.decision;
    running(p, label);
    return p.done({ kind: 'plan', index: idx, attempt: (rec.attempt ?? 0) + 1 });
  }

  const stop = runStepGates(p, idx, BEFORE_APPLY);
  if (stop && 'decision' in stop) return stop.decision;
  if (stop) {
    failStep(p, idx, stop.failedAttempt);
    if (findCondition(p.s.conditions, CONDITION_TYPES.succeeded)) return p.done();
    return decideForward(p);
  }
  running(p, label);
  const deadline = Date.parse(rec.startedAt ?? p.nowText) + stepTimeoutMs(rec, p.obs.config);
  p.requeue(deadline - p.now.getTime() + TIMEOUT_SLACK_MS);
  return p.done({ kind: 'apply', index: idx, attempt: rec.attempt ?? 1 });
}
