/**
 * Guards (issue #12, ADR 0019): a precondition of a step (`steps[].guard`) or of the whole run
 * (the Runbook's `spec.guard`), made of Checks that must all be Met. Each guard is evaluated once:
 * the gate asks for the read (a `guard` operation, run by the reconciler through evaluateCheck),
 * the read is recorded (`status.steps[i].guard` / `status.guard`, and the audit), and on the next
 * decision the same gate decides on the record. Defaults: not met skips (the step, or the run
 * for a Runbook guard); an error fails, since nothing should act without evidence, and a
 * failure is loud (onFailure, escalation, loop protection) where a skip is quiet.
 */
import { EVENT_REASONS, REASONS } from '../../api/v1alpha1/constants.js';
import type {
  Guard,
  GuardOnError,
  GuardOnNotMet,
  GuardRecord,
  RemediationStatus,
} from '../../api/v1alpha1/schema.js';
import type { ResolvedTarget } from '../../actions/types.js';
import { CHECKPOINT_REQUEUE_MS, RUNBOOK_GUARD, type GuardOperation, type Observed } from './decision.js';
import type { StartGate, StepGate, Verdict } from './gates.js';
import { auditNote, eventNote, Pass } from './pass.js';
import { stepSpec, stepTarget } from './resolve.js';
import { renderPart } from './runbook-parts.js';

/** What a guard's result makes the run do. */
export type GuardAction = 'Go' | GuardOnNotMet | GuardOnError;

/** The choice a guard's record leads to (pure; `runbookLevel`: only skipping the run or failing). */
export function guardAction(guard: Guard, rec: GuardRecord, runbookLevel: boolean): GuardAction {
  if (rec.result === 'Met') return 'Go';
  const chosen =
    rec.result === 'NotMet'
      ? (guard.onNotMet ?? (runbookLevel ? 'SkipRemediation' : 'SkipStep'))
      : (guard.onError ?? 'Fail');
  // SkipStep on a Runbook is refused by validation; a copy from before that rule skips the run.
  return runbookLevel && chosen === 'SkipStep' ? 'SkipRemediation' : chosen;
}

/** `check <name>: <what it read>` of the first check that was not Met. */
export function guardMessage(rec: GuardRecord): string {
  const first = rec.checks.find((c) => c.result !== 'Met');
  if (!first) return `every check met (${rec.checks.map((c) => c.name).join(', ')})`;
  const what = first.result === 'NotMet' ? 'not met' : 'could not be read';
  return `check ${first.name} ${what}: ${first.message}`;
}

function verdict(guard: Guard, rec: GuardRecord, where: string, step?: string): Verdict | undefined {
  const action = guardAction(guard, rec, step === undefined);
  const why = `guard of ${where}: ${guardMessage(rec)}`;
  const details = { guard: rec, action };
  switch (action) {
    case 'Go':
      return undefined;
    case 'SkipStep':
      return {
        kind: 'skipStep',
        message: `skipped: ${why}`,
        notes: [
          eventNote('Normal', EVENT_REASONS.stepSkipped, `step ${step ?? ''} skipped: ${why}`),
          auditNote('step_finished', `skipped: ${why}`, { step, phase: 'Skipped', details }),
        ],
      };
    case 'SkipRemediation':
      return {
        kind: 'end',
        reason: REASONS.guardNotMet,
        message: `skipped, nothing more was changed: ${why}`,
        notes: [
          eventNote('Normal', EVENT_REASONS.guardNotMet, `skipped: ${why}`),
          auditNote('finished', `skipped: ${why}`, { phase: 'Skipped', details: { ...details, step } }),
        ],
      };
    case 'Fail':
      // A step's failure goes through the step (its record, onFailure); the Runbook's ends the run.
      return step === undefined
        ? { kind: 'fail', reason: REASONS.guardError, message: why }
        : { kind: 'failAttempt', failure: { reason: REASONS.guardError, message: why, retryable: false } };
  }
}

/** The Runbook's `spec.guard`, evaluated after every other start gate, right before the first step. */
export const runbookGuard: StartGate = (p) => {
  const guard = p.obs.runbook?.spec.guard;
  if (!guard || !p.rem.spec.runbookRef) return undefined;
  if (!p.s.guard) return { kind: 'evaluate', guard: RUNBOOK_GUARD };
  return verdict(guard, p.s.guard, `runbook ${p.obs.runbook?.metadata.name ?? ''}`);
};

/** A step's `guard`, evaluated once before the step is planned (a retry does not read it again). */
export const stepGuard: StepGate = (_p, { index, rec }) => {
  const guard = stepSpec(rec)?.guard;
  if (!guard) return undefined;
  if (!rec.guard) return { kind: 'evaluate', guard: index };
  return verdict(guard, rec.guard, `step ${rec.name}`, rec.name);
};

/** Records a guard's evaluation; the gate decides on it in the pass's next decision. */
export function recordGuard(p: Pass, op: GuardOperation, rec: GuardRecord): void {
  const step = op.index === RUNBOOK_GUARD ? undefined : p.s.steps?.[op.index];
  if (step) step.guard = rec;
  else p.s.guard = rec;
  p.audit('guard_evaluated', `guard ${rec.result}: ${guardMessage(rec)}`, {
    ...(step ? { step: step.name } : {}),
    details: { guard: rec },
  });
  p.requeue(CHECKPOINT_REQUEUE_MS);
}

/** What the reconciler reads for a guard operation: the guard (rendered) and the target its checks read. */
export function guardToRead(
  obs: Observed,
  status: RemediationStatus,
  index: number,
): { guard: Guard; target?: ResolvedTarget } | { error: string } {
  if (index === RUNBOOK_GUARD) {
    const g = obs.runbook?.spec.guard;
    if (!g) return { error: 'the runbook has no guard any more' };
    const r = renderPart(obs.remediation, obs.runbook, 'guard', g);
    if ('error' in r) return { error: `guard: ${r.error}` };
    const target = new Pass(obs, status).mainTarget();
    return { guard: r.value, ...(target ? { target } : {}) };
  }
  const rec = status.steps?.[index];
  const guard = rec ? stepSpec(rec)?.guard : undefined;
  if (!rec || !guard) return { error: `step ${index} has no guard` };
  const target = stepTarget(rec);
  return { guard, ...(target ? { target } : {}) };
}
