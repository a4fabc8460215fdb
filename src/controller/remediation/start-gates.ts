/**
 * The gates before the first step, in the order they apply (README, "Safety, in the order it
 * applies"). A new rule before the start is one gate here and one line in START_GATES.
 */
import { ANNOTATIONS, CONDITION_TYPES, EVENT_REASONS, REASONS } from '../../api/v1alpha1/constants.js';
import { displayTarget } from '../../runbook/target.js';
import { BLOCKED_REQUEUE_MS, RUNBOOK_MISSING_REQUEUE_MS } from './decision.js';
import { unlessDryRun, type StartGate, type Marks } from './gates.js';
import { auditNote, eventNote } from './pass.js';
import { DEFAULT_INEFFECTIVE_WINDOW, ineffectiveBefore, loopProtection, startBlocker } from './policy.js';
import { boundsToCopy, effectiveSafety, isResolveFailure, resolveSteps } from './resolve.js';
import { revertRequested } from './revert-set.js';
import { gitopsOwners } from './gitops.js';
import {
  approvalDeadline,
  approvalTimedOutVerdict,
  onTimeoutOf,
  pastDeadline,
  untilDeadline,
} from './approval.js';
import { findCondition } from '../../api/v1alpha1/conditions.js';
import { runbookGuard } from './guards.js';
import { approvalHint, fourEyesRefusal, readSignoff } from '../../security/approval.js';
import { identityText, resolveIdentity, SINGLE_TENANT } from '../../security/identity.js';

/** The Runbook of `spec.runbookRef` exists; its creation wakes us (mapping.ts), a requeue looks again meanwhile. */
export const runbookExists: StartGate = ({ obs, rem }) => {
  if (!rem.spec.runbookRef || (!obs.runbookMissing && obs.runbook)) return undefined;
  const name = rem.spec.runbookRef.name;
  return {
    kind: 'wait',
    conditions: [
      {
        type: CONDITION_TYPES.progressing,
        status: 'False',
        reason: REASONS.runbookNotFound,
        message: `runbook ${name} not found in namespace ${rem.metadata.namespace ?? ''}`,
      },
    ],
    onChange: [eventNote('Warning', EVENT_REASONS.blocked, `runbook ${name} not found; waiting for it`)],
    requeueAfterMs: RUNBOOK_MISSING_REQUEUE_MS,
  };
};

/**
 * The steps are valid (Runbook validation). Inline steps cannot be fixed in place: Failed. An
 * invalid Runbook may be fixed; its change wakes us through the mapping.
 */
export const runbookValid: StartGate = ({ obs, rem, s }) => {
  if (s.steps?.length || obs.runbookProblems.length === 0) return undefined;
  const problems = obs.runbookProblems.join('; ');
  const ref = rem.spec.runbookRef;
  if (!ref) return { kind: 'fail', reason: REASONS.invalid, message: `invalid steps: ${problems}` };
  return {
    kind: 'wait',
    conditions: [
      {
        type: CONDITION_TYPES.progressing,
        status: 'False',
        reason: REASONS.runbookNotReady,
        message: `runbook ${ref.name} is invalid: ${problems}`,
      },
    ],
    onChange: [
      eventNote(
        'Warning',
        EVENT_REASONS.blocked,
        `runbook ${ref.name} is invalid; waiting for it to be fixed`,
      ),
    ],
  };
};

/** A person rejected it (annotation): Skipped, nothing changed. */
export const notRejected: StartGate = ({ obs, rem, nowText }) => {
  // Verified (kube-remediator reject), or the annotation in single-tenant mode (security/approval.ts).
  const signoff = readSignoff(rem, 'reject', obs.config.identity);
  if (!signoff) return undefined;
  const by = signoff.by;
  const approvalAsked = effectiveSafety(rem, obs.runbook)?.requireApproval === true;
  return {
    kind: 'end',
    status: { rejection: signoff.record ?? { by, at: nowText } },
    conditions: approvalAsked
      ? [
          {
            type: CONDITION_TYPES.approved,
            status: 'False',
            reason: REASONS.rejected,
            message: `rejected by ${by}`,
          },
        ]
      : [],
    reason: REASONS.rejected,
    message: `rejected by ${by}: nothing was changed`,
    notes: [
      eventNote('Normal', EVENT_REASONS.rejected, `rejected by ${by}`),
      auditNote('rejected', `rejected by ${by}`, { details: { by } }),
    ],
  };
};

/** The alert resolved (or a revert was asked for) before the start: Skipped, nothing to do. */
export const stillFiring: StartGate = ({ rem, s, nowText }) => {
  if (!revertRequested(rem)) return undefined;
  return {
    kind: 'end',
    status: { revertRequestedAt: s.revertRequestedAt ?? nowText },
    reason: REASONS.revertRequested,
    message: 'the alert resolved (or a revert was asked for) before the remediation started: nothing to do',
    notes: [
      eventNote(
        'Normal',
        EVENT_REASONS.rejected,
        'skipped: the alert resolved before the remediation started',
      ),
      auditNote('finished', 'skipped: resolved before start', { phase: 'Skipped' }),
    ],
  };
};

/**
 * The steps are rendered once and copied into the status with the bounds they were rendered
 * under: params from the alert, names checked where they land, every target in scope. What is
 * refused here is refused before a single request reaches the API server.
 */
export const stepsCopied: StartGate = ({ obs, rem, s }) => {
  if (s.steps?.length) return undefined;
  const r = resolveSteps(rem, obs.runbook);
  if (isResolveFailure(r)) {
    const blocked: Marks['conditions'] =
      r.reason === REASONS.outOfScope
        ? [{ type: CONDITION_TYPES.blocked, status: 'True', reason: REASONS.outOfScope, message: r.message }]
        : [];
    return { kind: 'fail', conditions: blocked, reason: r.reason, message: r.message };
  }
  const generation = obs.runbook?.metadata.generation;
  // Whose rights the steps run with, fixed with them (src/security/identity.ts). Single-tenant
  // runs record nothing, as before.
  const id = resolveIdentity(obs.config.identity ?? SINGLE_TENANT, rem, obs.runbook);
  return {
    kind: 'go',
    status: {
      steps: r.steps,
      ...(id.kind === 'serviceAccount' ? { identity: identityText(id) } : {}),
      // The bounds go with the steps they were rendered under (read by effectiveSafety).
      bounds: boundsToCopy(rem, obs.runbook),
      ...(r.target ? { target: displayTarget(r.target, rem.metadata.namespace ?? '') } : {}),
      ...(generation !== undefined ? { runbookGeneration: generation } : {}),
    },
  };
};

/**
 * The last run of this Runbook on this target Succeeded, yet this alert came within
 * `safety.ineffectiveWindow` after it: say so (PreviousRunIneffective, reason Ineffective). Loop
 * protection, next, counts that run as a failure.
 */
export const previousRunNoted: StartGate = (p) => {
  const { obs, rem } = p;
  if (!obs.runbook) return undefined;
  const last = ineffectiveBefore(rem, p.mainKey(), obs.runbook, p.peersOn(p.mainKey()));
  if (!last) return undefined;
  const msg = `remediation ${last.metadata.name ?? ''} of runbook ${obs.runbook.metadata.name ?? ''} on ${p.mainKey() ?? ''} succeeded at ${last.status?.completedAt ?? ''}, and the alert fired again within safety.ineffectiveWindow (${obs.runbook.spec.safety?.ineffectiveWindow ?? DEFAULT_INEFFECTIVE_WINDOW}): that run counts as a failure for maxConsecutiveFailures`;
  return {
    kind: 'go',
    conditions: [
      {
        type: CONDITION_TYPES.previousRunIneffective,
        status: 'True',
        reason: REASONS.ineffective,
        message: msg,
      },
    ],
    onChange: [
      eventNote('Warning', EVENT_REASONS.ineffective, msg),
      auditNote('blocked', msg, {
        details: { reason: REASONS.ineffective, ineffective: last.metadata.name },
      }),
    ],
  };
};

/** The last `maxConsecutiveFailures` runs of this Runbook on this target failed: Blocked, a person looks first. */
export const noFailureLoop: StartGate = (p) => {
  const { obs, rem } = p;
  if (!obs.runbook) return undefined;
  const key = p.mainKey();
  const loop = loopProtection(rem, key, obs.runbook, p.peersOn(key), p.now);
  if (!loop.blocked) return undefined;
  const msg = `the last ${loop.limit} remediations of runbook ${obs.runbook.metadata.name ?? ''} on ${key ?? ''} failed (${loop.failures.join(', ')}); a person must look first: annotate the Runbook ${ANNOTATIONS.clearBlock}=${key ?? ''} or delete the failed Remediations`;
  return {
    kind: 'end',
    conditions: [
      { type: CONDITION_TYPES.blocked, status: 'True', reason: REASONS.loopProtection, message: msg },
    ],
    reason: REASONS.loopProtection,
    message: msg,
    notes: [
      eventNote('Warning', EVENT_REASONS.blocked, msg),
      auditNote('blocked', msg, { phase: 'Blocked', details: { failures: loop.failures } }),
    ],
  };
};

/**
 * `safety.requireApproval`: wait for a person's approval (the first approver is kept), until
 * the deadline of `safety.approval` if there is one (then as its `onTimeout` says). Verified
 * (kube-remediator approve), or the annotation in single-tenant mode (security/approval.ts).
 */
export const approved: StartGate = (p) => {
  const { obs, rem, s, nowText } = p;
  const safety = effectiveSafety(rem, obs.runbook);
  if (!safety?.requireApproval) return undefined;
  const given = readSignoff(rem, 'approve', obs.config.identity);
  // Four eyes: the creator's own approval counts as none, and says so.
  const refused = given && fourEyesRefusal(rem, given.by, obs.config.identity?.fourEyes);
  const signoff = refused ? undefined : given;
  if (!signoff) {
    // Proceeded past the deadline already: the run goes on, recorded as not approved.
    if (findCondition(s.conditions, CONDITION_TYPES.approved)?.reason === REASONS.approvalTimedOut)
      return undefined;
    const since = s.awaitingApproval?.since ?? nowText;
    const deadline = approvalDeadline(safety.approval, since);
    if (deadline && pastDeadline(p, deadline)) return approvalTimedOutVerdict(p, safety.approval!, deadline);
    const until = deadline ? ` until ${deadline} (then ${onTimeoutOf(safety.approval)})` : '';
    const hint = approvalHint(rem, obs.config.identity);
    return {
      kind: 'wait',
      status: { awaitingApproval: { since, ...(deadline ? { deadline } : {}) } },
      conditions: [
        {
          type: CONDITION_TYPES.approved,
          status: 'False',
          reason: refused ? REASONS.selfApproval : REASONS.awaitingApproval,
          message: `${refused ? `${refused}; ` : ''}${hint.condition}${until}`,
        },
      ],
      onChange: [
        refused
          ? eventNote('Warning', EVENT_REASONS.selfApproval, refused)
          : eventNote('Normal', EVENT_REASONS.awaitingApproval, `${hint.event}${until}`),
      ],
      ...(deadline ? { requeueAfterMs: untilDeadline(p, deadline) } : {}),
    };
  }
  const approval = signoff.record ?? s.approval ?? { by: signoff.by, at: nowText };
  return {
    kind: 'go',
    status: { approval, awaitingApproval: undefined },
    conditions: [
      {
        type: CONDITION_TYPES.approved,
        status: 'True',
        reason: REASONS.approved,
        message: `approved by ${approval.by}`,
      },
    ],
    onChange: [
      eventNote('Normal', EVENT_REASONS.approved, `approved by ${approval.by}`),
      auditNote('approved', `approved by ${approval.by}`, { details: { by: approval.by } }),
    ],
  };
};

/** A slot: no other active Remediation on the target, `maxConcurrent`, the cluster budget. Pending until then. */
export const slotFree: StartGate = (p) => {
  const blocker = startBlocker(p.rem, p.mainKey(), p.activePeers(), {
    maxConcurrent: effectiveSafety(p.rem, p.obs.runbook)?.maxConcurrent,
    clusterBudget: p.obs.config.maxConcurrentRemediations,
  });
  if (!blocker) return undefined;
  return {
    kind: 'wait',
    conditions: [
      { type: CONDITION_TYPES.blocked, status: 'True', reason: blocker.reason, message: blocker.message },
    ],
    onChange: [
      eventNote('Normal', EVENT_REASONS.blocked, blocker.message),
      auditNote('blocked', blocker.message, { phase: 'Pending', details: { reason: blocker.reason } }),
    ],
    requeueAfterMs: BLOCKED_REQUEUE_MS,
  };
};

/**
 * In order. Dry runs change nothing, so they skip loop protection, approval and the slot:
 * previewing a risky runbook must stay possible when it is blocked or waiting for a person.
 * The Runbook's guard comes last: its reads are the ones nearest to the first step (a dry run
 * reads it too, and shows what it would decide).
 */
export const START_GATES: readonly StartGate[] = [
  runbookExists,
  runbookValid,
  notRejected,
  stillFiring,
  stepsCopied,
  gitopsOwners,
  unlessDryRun(previousRunNoted),
  unlessDryRun(noFailureLoop),
  unlessDryRun(approved),
  unlessDryRun(slotFree),
  runbookGuard,
];
