/**
 * Validation of guards, approval deadlines, escalations and the ineffective window (issue #12,
 * ADR 0019), called by validateRunbook. Each problem names its field, e.g.
 * `steps[2].requireApproval.timeout: ...`; the schema has already refused wrong types and enums.
 */
import type { ApprovalPolicy, Guard, RunbookSpec, TargetRef } from '../api/v1alpha1/schema.js';
import { validateChecks } from '../actions/checks/evaluate.js';
import { validateNotify } from '../actions/calls/notify.js';
import { WORKLOAD_KINDS } from '../actions/kubernetes/workload.js';
import { parseDuration } from '../util/duration.js';
import { errorMessage } from '../util/errors.js';

function durationProblem(value: string | undefined, at: string, allowZero = false): string | undefined {
  if (value === undefined) return undefined;
  try {
    const ms = parseDuration(value);
    if (ms <= 0 && !allowZero) return `${at}: must be longer than 0`;
  } catch (err) {
    return `${at}: ${errorMessage(err)}`;
  }
  return undefined;
}

function checkGuard(
  guard: Guard,
  at: string,
  target: TargetRef | undefined,
  runbookLevel: boolean,
  out: string[],
): void {
  out.push(...validateChecks(guard.checks, `${at}.checks`));
  guard.checks.forEach((c, j) => {
    if (c.rollout && !(target && (WORKLOAD_KINDS as readonly string[]).includes(target.kind)))
      out.push(
        `${at}.checks[${j}].rollout: reads a Deployment, StatefulSet or DaemonSet target; the target is ${target ? target.kind : 'not set'}`,
      );
  });
  if (runbookLevel && guard.onNotMet === 'SkipStep')
    out.push(`${at}.onNotMet: a Runbook guard is not a step's: use SkipRemediation`);
  if (runbookLevel && guard.onError === 'SkipStep')
    out.push(`${at}.onError: a Runbook guard is not a step's: use Fail or SkipRemediation`);
}

function checkApproval(policy: ApprovalPolicy, at: string, out: string[]): void {
  const p = durationProblem(policy.timeout, `${at}.timeout`);
  if (p) out.push(p);
  if (policy.onTimeout && !policy.timeout)
    out.push(`${at}.onTimeout: has no effect without ${at}.timeout (the wait has no deadline)`);
}

export function checkGates(spec: RunbookSpec, out: string[]): void {
  spec.steps.forEach((s, i) => {
    if (s.guard) checkGuard(s.guard, `steps[${i}].guard`, s.target ?? spec.target, false, out);
    if (s.requireApproval) checkApproval(s.requireApproval, `steps[${i}].requireApproval`, out);
  });
  if (spec.guard) checkGuard(spec.guard, 'guard', spec.target, true, out);
  const safety = spec.safety;
  if (safety?.approval) {
    checkApproval(safety.approval, 'safety.approval', out);
    if (!safety.requireApproval)
      out.push('safety.approval: has no effect without safety.requireApproval: true');
  }
  const w = durationProblem(safety?.ineffectiveWindow, 'safety.ineffectiveWindow', true);
  if (w) out.push(w);
  spec.escalation?.forEach((e, i) => {
    const after = durationProblem(e.after, `escalation[${i}].after`);
    if (after) out.push(after);
    for (const problem of validateNotify({ name: 'escalation', action: 'notify', notify: e.notify }))
      out.push(`escalation[${i}].${problem}`);
  });
}
