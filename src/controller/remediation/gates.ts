/**
 * Gates: small pure policies, each looking at the observed world and the status decided so
 * far, each saying what it decides (cert-manager's policy chain). A gate returns undefined to
 * let the Remediation through untouched, or a Verdict:
 *   go    through, with marks (e.g. Approved=True, a lock released)
 *   wait  stop here for now: a condition says why, a requeue says when to look again
 *   waitUnrecorded  stop here for now and write nothing: a wait that ends by itself in moments
 *         (a chain of reverts unwinding) and is no news for a person; the status stays as it
 *         was observed, and a requeue looks again (there a `wait` says so, if it lasts)
 *   fail  the run ends Failed (the usual failure notes, and onFailure.revert)
 *   end   the run ends without running (Skipped, Blocked) with the notes given
 *   failAttempt  (step gates) the step's attempt fails, e.g. a timeout; retry rules apply
 *   evaluate  stop here and evaluate a guard (a read, the pass's operation); the next pass decides on it
 *   skipStep  (step gates) the step is skipped, with the message given, and the run goes on
 * The chains are ordered lists (start-gates.ts, step-gates.ts), evaluated here in one place:
 * a reader learns the order from the list, and a new rule is one function and one line.
 */
import type { RemediationStatus, StepStatus } from '../../api/v1alpha1/schema.js';
import type { ConditionInput } from '../../api/v1alpha1/conditions.js';
import type { Decision, Note, StepFailure } from './decision.js';
import { finish, finishFailed } from './finish.js';
import type { GateView, Pass } from './pass.js';

/** Marks step `index` Skipped: it never ran (a guard or an approval said so). */
function skipStep(p: Pass, index: number, message: string): void {
  const rec = p.s.steps![index]!;
  rec.phase = 'Skipped';
  rec.finishedAt = p.nowText;
  rec.message = message;
  delete rec.nextAttemptAt;
}

export interface Marks {
  /** Status fields to set. */
  status?: Partial<RemediationStatus>;
  /** Fields of the gated step's record to set (step gates). */
  step?: Partial<StepStatus>;
  /** Conditions to set, in order; the first is the gate's own. */
  conditions?: ConditionInput[];
  /** Events and audit notes emitted when the gate's own condition changes, not on every pass. */
  onChange?: Note[];
}

export type Verdict =
  | (Marks & { kind: 'go' })
  | (Marks & { kind: 'wait'; requeueAfterMs?: number })
  | { kind: 'waitUnrecorded'; requeueAfterMs: number }
  | (Marks & { kind: 'fail'; reason: string; message: string })
  | (Marks & { kind: 'end'; reason: string; message: string; notes: Note[] })
  | (Marks & { kind: 'failAttempt'; failure: StepFailure })
  | (Marks & { kind: 'evaluate'; guard: number })
  | (Marks & { kind: 'skipStep'; message: string; notes: Note[] });

/** A gate before the first step. */
export type StartGate = (p: GateView) => Verdict | undefined;

/** The step a step gate looks at. */
export interface StepAt {
  index: number;
  rec: Readonly<StepStatus>;
}

/** A gate before a step's operation (plan, apply, revert). */
export type StepGate = (p: GateView, at: StepAt) => Verdict | undefined;

/** Dry runs change nothing: the gates that protect the target let them through. */
export function unlessDryRun<G extends StartGate | StepGate>(gate: G): G {
  return ((p: GateView, at: StepAt) => (p.dryRun ? undefined : gate(p, at))) as G;
}

/** What stopping at a verdict means for the pass: a decision, a failed attempt, or nothing (go on). */
export type GateResult =
  { decision: Decision } | { failedAttempt: StepFailure } | { skipped: true } | undefined;

/** Writes a verdict's marks into the pass and says whether the chain stops there. */
export function applyVerdict(p: Pass, v: Verdict, index?: number): GateResult {
  if (v.kind === 'waitUnrecorded') {
    p.requeue(v.requeueAfterMs);
    return { decision: p.unchanged() };
  }
  if (v.status) Object.assign(p.s, v.status);
  if (v.step && index !== undefined) Object.assign(p.s.steps![index]!, v.step);
  const [own, ...rest] = v.conditions ?? [];
  const changed = own ? p.cond(own) : false;
  for (const c of rest) p.cond(c);
  if (changed && v.onChange) p.notes.push(...v.onChange);
  switch (v.kind) {
    case 'go':
      return undefined;
    case 'wait':
      if (v.requeueAfterMs !== undefined) p.requeue(v.requeueAfterMs);
      return { decision: p.done() };
    case 'fail':
      return { decision: finishFailed(p, v.reason, v.message) };
    case 'end':
      return { decision: finish(p, 'False', v.reason, v.message, v.notes) };
    case 'failAttempt':
      return { failedAttempt: v.failure };
    case 'evaluate':
      return { decision: p.done({ kind: 'guard', index: v.guard, attempt: 1 }) };
    case 'skipStep':
      skipStep(p, index!, v.message);
      p.notes.push(...v.notes);
      return { skipped: true };
  }
}

/** Runs the start gates in order; the decision of the first that stops, or undefined when all let it through. */
export function runStartGates(p: Pass, gates: readonly StartGate[]): Decision | undefined {
  for (const gate of gates) {
    const v = gate(p);
    const r = v && applyVerdict(p, v);
    if (r && 'decision' in r) return r.decision;
  }
  return undefined;
}

/** Runs the step gates in order for step `index`; the first that stops decides. */
export function runStepGates(p: Pass, index: number, gates: readonly StepGate[]): GateResult {
  for (const gate of gates) {
    const v = gate(p, { index, rec: p.s.steps![index]! });
    const r = v && applyVerdict(p, v, index);
    if (r) return r;
  }
  return undefined;
}
