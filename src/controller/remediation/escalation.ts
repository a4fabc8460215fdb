/**
 * Escalation on time (issue #12, ADR 0019): the Runbook's `escalation: [{after, notify}]`. Once a
 * Remediation is still unresolved `after` its creation, each escalation is sent once, beside the
 * steps, never instead of them: the pass that finds one due writes its checkpoint (`Sending` in
 * `status.escalations`) in place of its own operation, the next pass sends it (an `escalate`
 * operation) and records how it went, and the steps go on in the pass after. A send cut short
 * by a restart is sent again with the same Idempotency-Key (`<uid>/escalation/<index>`), as a
 * notify step's retry is.
 *
 * Unresolved: the alert has not resolved (and no revert was asked for); for a Remediation
 * without an alert, it has not Succeeded. A dry run, or a run a person rejected, never escalates.
 * An escalation more than ESCALATION_GRACE_MS past due is not sent: after an upgrade (or a long
 * outage of the operator) old Remediations whose resolve never arrived must not all page at once.
 */
import { CONDITION_TYPES, EVENT_REASONS } from '../../api/v1alpha1/constants.js';
import type { Escalation, EscalationRecord } from '../../api/v1alpha1/schema.js';
import type { ActionOutcome } from '../../actions/types.js';
import { rfc3339 } from '../../util/clock.js';
import { parseDuration } from '../../util/duration.js';
import { findCondition } from '../../api/v1alpha1/conditions.js';
import { CHECKPOINT_REQUEUE_MS, type Decision, type EscalateOperation, type Observed } from './decision.js';
import type { Pass } from './pass.js';
import { revertRequested } from './revert-set.js';
import { isDryRun } from './status.js';

/** How late an escalation may still be sent. */
export const ESCALATION_GRACE_MS = 3_600_000;

/** The Runbook's escalations, when this Remediation may escalate at all. */
function escalationsOf(obs: Observed, d: Decision): readonly Escalation[] {
  const rem = obs.remediation;
  if (!rem.spec.runbookRef || isDryRun(rem, d.status) || d.status.rejection) return [];
  return obs.runbook?.spec.escalation ?? [];
}

export function isUnresolved(obs: Observed, d: Decision): boolean {
  const rem = obs.remediation;
  if (revertRequested(rem)) return false;
  if (rem.spec.alert) return true;
  return findCondition(d.status.conditions, CONDITION_TYPES.succeeded)?.status !== 'True';
}

/** When escalation `e` is due (ms since epoch), or undefined when its `after` cannot be read. */
export function dueAt(obs: Observed, e: Escalation): number | undefined {
  try {
    return Date.parse(obs.remediation.metadata.creationTimestamp ?? '') + parseDuration(e.after);
  } catch {
    return undefined;
  }
}

/**
 * The decision `d` with the escalations laid over it: an escalation checkpointed as Sending is
 * this pass's operation (in place of `d`'s, which the next pass decides again); one that is
 * due is checkpointed (no operation); one not yet due sets the requeue.
 */
export function withEscalations(obs: Observed, d: Decision): Decision {
  const list = escalationsOf(obs, d);
  if (list.length === 0) return d;
  const records = d.status.escalations ?? [];
  const sending = records.find((r) => r.state === 'Sending');
  if (sending) return { ...d, op: { kind: 'escalate', index: sending.index, attempt: 1 } };
  if (!isUnresolved(obs, d)) return d;
  const now = obs.now.getTime();
  let next: number | undefined;
  for (const [index, e] of list.entries()) {
    if (records.some((r) => r.index === index)) continue;
    const due = dueAt(obs, e);
    if (due === undefined || now - due > ESCALATION_GRACE_MS) continue;
    if (due > now) {
      next = Math.min(next ?? due, due);
      continue;
    }
    const rec: EscalationRecord = { index, after: e.after, state: 'Sending', at: rfc3339(obs.now) };
    return {
      ...d,
      op: { kind: 'none' },
      status: { ...d.status, escalations: [...records, rec] },
      requeueAfterMs: CHECKPOINT_REQUEUE_MS,
    };
  }
  if (next === undefined) return d;
  const wait = next - now;
  return { ...d, requeueAfterMs: Math.min(d.requeueAfterMs ?? wait, wait) };
}

/** Records how the send of an escalation went: Sent or Failed (not sent again), an Event, an audit row. */
export function recordEscalation(p: Pass, op: EscalateOperation, outcome: ActionOutcome): void {
  const records = (p.s.escalations ?? []).map((r) => ({ ...r }));
  const rec = records.find((r) => r.index === op.index);
  if (!rec) return;
  const sent = outcome.kind === 'done';
  rec.state = sent ? 'Sent' : 'Failed';
  rec.sentAt = p.nowText;
  rec.message = outcome.message.slice(0, 4000);
  p.s.escalations = records;
  const msg = `still unresolved after ${rec.after}: ${sent ? 'escalated' : 'escalation failed'}: ${rec.message}`;
  p.event(sent ? 'Normal' : 'Warning', sent ? EVENT_REASONS.escalated : EVENT_REASONS.escalationFailed, msg);
  p.audit('escalated', msg, { details: { index: rec.index, after: rec.after, state: rec.state } });
  p.requeue(CHECKPOINT_REQUEUE_MS);
}
