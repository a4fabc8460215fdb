/**
 * Approval by a person (issue #12, ADR 0019): who approved is read through one function,
 * `security/approval.ts` `readSignoff` (verified first; annotations only in single-tenant mode,
 * ADR 0023), for the run and for a step alike; here the step gate of `steps[].requireApproval`
 * with its deadline. The Runbook-level wait (`safety.requireApproval` with `safety.approval`) is
 * the `approved` start gate; its deadline rule is `approvalTimedOutVerdict` here too.
 */
import { CONDITION_TYPES, EVENT_REASONS, REASONS } from '../../api/v1alpha1/constants.js';
import type { ApprovalOnTimeout, ApprovalPolicy } from '../../api/v1alpha1/schema.js';
import { rfc3339 } from '../../util/clock.js';
import { parseDuration } from '../../util/duration.js';
import { TIMEOUT_SLACK_MS } from './decision.js';
import type { StepGate, Verdict } from './gates.js';
import { auditNote, eventNote, type GateView } from './pass.js';
import { stepSpec } from './resolve.js';
import { approvalHint, fourEyesRefusal, readSignoff } from '../../security/approval.js';

/** The deadline of a wait that started at `since`, or undefined when the policy waits forever. */
export function approvalDeadline(policy: ApprovalPolicy | undefined, since: string): string | undefined {
  if (!policy?.timeout) return undefined;
  return rfc3339(new Date(Date.parse(since) + parseDuration(policy.timeout)));
}

export function onTimeoutOf(policy: ApprovalPolicy | undefined): ApprovalOnTimeout {
  return policy?.onTimeout ?? 'Fail';
}

/** ms until `deadline` (plus slack, so the pass lands after it), for the requeue of a wait. */
export function untilDeadline(p: GateView, deadline: string | undefined): number | undefined {
  if (!deadline) return undefined;
  return Math.max(0, Date.parse(deadline) - p.now.getTime()) + TIMEOUT_SLACK_MS;
}

export function pastDeadline(p: GateView, deadline: string | undefined): boolean {
  return deadline !== undefined && p.now.getTime() >= Date.parse(deadline);
}

/**
 * `steps[].requireApproval`: wait for the step's approval (verified, `kube-remediator approve
 * NAME --step STEP`; or `approved-by.kube-remediator.io/<step>` in single-tenant mode), until
 * the deadline.
 */
export const stepApproved: StepGate = (p, { index, rec }) => {
  const policy = stepSpec(rec)?.requireApproval;
  if (!policy || rec.approval?.outcome) return undefined;
  const requestedAt = rec.approval?.requestedAt ?? p.nowText;
  const deadline = approvalDeadline(policy, requestedAt);
  const wait = { requestedAt, ...(deadline ? { deadline } : {}) };
  const label = `step ${rec.name}`;
  const settings = p.obs.config.identity;
  const rejection = readSignoff(p.rem, 'reject', settings);
  if (rejection) {
    const rejectedBy = rejection.by;
    const msg = `${label} rejected by ${rejectedBy}: nothing more was changed`;
    return {
      kind: 'end',
      step: { approval: { ...wait, outcome: 'Skipped', by: rejectedBy, at: p.nowText } },
      status: {
        rejection: rejection.record ?? { by: rejectedBy, at: p.nowText },
        awaitingApproval: undefined,
      },
      conditions: [
        { type: CONDITION_TYPES.approved, status: 'False', reason: REASONS.rejected, message: msg },
      ],
      reason: REASONS.rejected,
      message: msg,
      notes: [
        eventNote('Normal', EVENT_REASONS.rejected, msg),
        auditNote('rejected', msg, { step: rec.name, details: { by: rejectedBy } }),
      ],
    };
  }
  const given = readSignoff(p.rem, 'approve', settings, rec.name)?.by;
  // Four eyes: the creator's own approval counts as none, and says so.
  const refused = given === undefined ? undefined : fourEyesRefusal(p.rem, given, settings?.fourEyes);
  const by = refused ? undefined : given;
  if (by) {
    return {
      kind: 'go',
      step: { approval: { ...wait, outcome: 'Approved', by, at: p.nowText } },
      status: { awaitingApproval: undefined },
      conditions: [
        {
          type: CONDITION_TYPES.approved,
          status: 'True',
          reason: REASONS.approved,
          message: `${label} approved by ${by}`,
        },
      ],
      onChange: [
        eventNote('Normal', EVENT_REASONS.approved, `${label} approved by ${by}`),
        auditNote('approved', `${label} approved by ${by}`, { step: rec.name, details: { by } }),
      ],
    };
  }
  if (pastDeadline(p, deadline)) return stepTimedOut(p, policy, wait, rec.name);
  const until = deadline ? ` until ${deadline} (then ${onTimeoutOf(policy)})` : '';
  const hint = approvalHint(p.rem, settings, rec.name);
  return {
    kind: 'wait',
    step: { approval: wait },
    status: {
      awaitingApproval: { step: rec.name, index, since: requestedAt, ...(deadline ? { deadline } : {}) },
    },
    conditions: [
      {
        type: CONDITION_TYPES.approved,
        status: 'False',
        reason: refused ? REASONS.selfApproval : REASONS.awaitingApproval,
        message: `${refused ? `${label}: ${refused}; ` : `${label} is `}${hint.condition}${until}`,
      },
    ],
    onChange: [
      refused
        ? eventNote('Warning', EVENT_REASONS.selfApproval, `${label}: ${refused}`)
        : eventNote('Normal', EVENT_REASONS.awaitingApproval, `${label} is ${hint.event}${until}`),
    ],
    ...(deadline ? { requeueAfterMs: untilDeadline(p, deadline) } : {}),
  };
};

function stepTimedOut(
  p: GateView,
  policy: ApprovalPolicy,
  wait: { requestedAt: string; deadline?: string },
  step: string,
): Verdict {
  const onTimeout = onTimeoutOf(policy);
  const msg = `step ${step} was not approved by ${wait.deadline ?? ''} (requireApproval.timeout ${policy.timeout ?? ''}): onTimeout ${onTimeout}`;
  const outcome = onTimeout === 'Skip' ? 'Skipped' : onTimeout === 'Proceed' ? 'Proceeded' : 'Failed';
  const marks = {
    step: { approval: { ...wait, outcome, at: p.nowText } as const },
    status: { awaitingApproval: undefined },
    conditions: [
      {
        type: CONDITION_TYPES.approved,
        status: 'False' as const,
        reason: REASONS.approvalTimedOut,
        message: msg,
      },
    ],
  };
  const notes = [
    eventNote('Warning', EVENT_REASONS.approvalTimedOut, msg),
    auditNote('approval_timed_out', msg, { step, details: { onTimeout, deadline: wait.deadline } }),
  ];
  switch (onTimeout) {
    case 'Skip':
      return { kind: 'skipStep', ...marks, message: msg, notes };
    case 'Proceed':
      return { kind: 'go', ...marks, onChange: notes };
    case 'Fail':
      return {
        kind: 'failAttempt',
        ...marks,
        onChange: notes,
        failure: { reason: REASONS.approvalTimedOut, message: msg, retryable: false },
      };
  }
}

/**
 * The Runbook-level wait past its deadline (`safety.approval`): Skip ends it Skipped (reason
 * NotApproved), Fail ends it Failed, Proceed starts it, recorded as not approved.
 */
export function approvalTimedOutVerdict(p: GateView, policy: ApprovalPolicy, deadline: string): Verdict {
  const onTimeout = onTimeoutOf(policy);
  const msg = `not approved by ${deadline} (safety.approval.timeout ${policy.timeout ?? ''}): onTimeout ${onTimeout}`;
  const conditions = [
    {
      type: CONDITION_TYPES.approved,
      status: 'False' as const,
      reason: REASONS.approvalTimedOut,
      message: msg,
    },
  ];
  const notes = [
    eventNote('Warning', EVENT_REASONS.approvalTimedOut, msg),
    auditNote('approval_timed_out', msg, { details: { onTimeout, deadline } }),
  ];
  switch (onTimeout) {
    case 'Skip':
      return {
        kind: 'end',
        status: { awaitingApproval: undefined },
        conditions,
        reason: REASONS.notApproved,
        message: `${msg}: nothing was changed`,
        notes: [...notes, auditNote('finished', `skipped: ${msg}`, { phase: 'Skipped' })],
      };
    case 'Proceed':
      return { kind: 'go', status: { awaitingApproval: undefined }, conditions, onChange: notes };
    case 'Fail':
      return {
        kind: 'fail',
        status: { awaitingApproval: undefined },
        conditions,
        onChange: notes,
        reason: REASONS.approvalTimedOut,
        message: msg,
      };
  }
}
