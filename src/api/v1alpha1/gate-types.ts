/**
 * Guards, step approval with a deadline, escalation on time (issue #12, ADR 0019): the pieces
 * that need nothing from the steps (approval, the guard's choices) and the records a
 * Remediation's status keeps. `Guard` sits next to `CheckList` in step-types.ts and `Escalation`
 * in escalation-types.ts: both need step types, and step-types.ts imports this file.
 */
import { Type, type Static } from '@sinclair/typebox';
import { DURATION, StringEnum } from './shared-types.js';

// ---------------------------------------------------------------------------------------
// guards

export const GUARD_ON_NOT_MET = ['SkipStep', 'SkipRemediation'] as const;
export type GuardOnNotMet = (typeof GUARD_ON_NOT_MET)[number];
export const GUARD_ON_ERROR = ['Fail', 'SkipStep', 'SkipRemediation'] as const;
export type GuardOnError = (typeof GUARD_ON_ERROR)[number];

// ---------------------------------------------------------------------------------------
// approval with a deadline

export const APPROVAL_ON_TIMEOUT = ['Skip', 'Proceed', 'Fail'] as const;
export type ApprovalOnTimeout = (typeof APPROVAL_ON_TIMEOUT)[number];

export const ApprovalPolicy = Type.Object(
  {
    timeout: Type.Optional(
      Type.String({
        description:
          'How long to wait for a person, e.g. `5m` (size it to the RTO). Absent: wait until someone decides.',
        pattern: DURATION,
      }),
    ),
    onTimeout: Type.Optional(
      StringEnum(
        APPROVAL_ON_TIMEOUT,
        'What happens when nobody decided by the deadline: `Fail` (default: nothing acts without a person; onFailure and escalation tell people), `Skip` (a step is skipped and the run goes on; a Runbook-level wait ends `Skipped`) or `Proceed` (act without approval, recorded as such).',
      ),
    ),
  },
  {
    description:
      'Approval by a person before acting. On a step: it waits in AwaitingApproval until `approved-by.kube-remediator.io/<step name>=<who>` is annotated on the Remediation (`kube-remediator.io/rejected-by` ends the run).',
  },
);
export type ApprovalPolicy = Static<typeof ApprovalPolicy>;

// ---------------------------------------------------------------------------------------
// status records

export const CHECK_RESULTS = ['Met', 'NotMet', 'Error'] as const;

export const CheckRecord = Type.Object(
  {
    name: Type.String({ description: 'The check.', maxLength: 63 }),
    result: StringEnum(CHECK_RESULTS, 'What one evaluation gave.'),
    message: Type.String({ description: 'What was asked and what came back.', maxLength: 4096 }),
  },
  { description: 'One evaluated check.' },
);

export const GuardRecord = Type.Object(
  {
    result: StringEnum(CHECK_RESULTS, 'Met when every check was Met; else the first check that was not.'),
    at: Type.String({ description: 'When the guard was evaluated.', format: 'date-time' }),
    checks: Type.Array(CheckRecord, {
      description: 'The checks evaluated, in order, up to the first that was not Met.',
      maxItems: 16,
    }),
  },
  { description: 'The evaluation of a guard.' },
);
export type GuardRecord = Static<typeof GuardRecord>;

export const APPROVAL_OUTCOMES = ['Approved', 'Skipped', 'Proceeded', 'Failed'] as const;
export type ApprovalOutcome = (typeof APPROVAL_OUTCOMES)[number];

export const StepApproval = Type.Object(
  {
    requestedAt: Type.String({ description: 'When the step started waiting.', format: 'date-time' }),
    deadline: Type.Optional(
      Type.String({ description: 'When the wait ends (requireApproval.timeout).', format: 'date-time' }),
    ),
    outcome: Type.Optional(StringEnum(APPROVAL_OUTCOMES, 'How the wait ended.')),
    by: Type.Optional(
      Type.String({
        description:
          'Who approved: the verified user name (`status.stepApprovals`), or, in single-tenant mode, as annotated.',
        maxLength: 256,
      }),
    ),
    at: Type.Optional(Type.String({ description: 'When the wait ended.', format: 'date-time' })),
  },
  { description: "The step's approval: the wait and how it ended." },
);
export type StepApproval = Static<typeof StepApproval>;

export const ApprovalWait = Type.Object(
  {
    step: Type.Optional(
      Type.String({ description: 'The step that waits (absent: the whole run).', maxLength: 63 }),
    ),
    index: Type.Optional(Type.Integer({ description: 'Its index in `status.steps`.', minimum: 0 })),
    since: Type.String({ description: 'When the wait started.', format: 'date-time' }),
    deadline: Type.Optional(Type.String({ description: 'When the wait ends.', format: 'date-time' })),
  },
  { description: 'What waits for a person now (phase AwaitingApproval).' },
);
export type ApprovalWait = Static<typeof ApprovalWait>;

export const ESCALATION_STATES = ['Sending', 'Sent', 'Failed'] as const;

export const EscalationRecord = Type.Object(
  {
    index: Type.Integer({ description: "Its index in the Runbook's `escalation`.", minimum: 0 }),
    after: Type.String({ description: 'Its `after`.', maxLength: 32 }),
    state: StringEnum(
      ESCALATION_STATES,
      '`Sending` is the checkpoint written before the send; `Sent` or `Failed` how it went.',
    ),
    at: Type.String({ description: 'When it was due and checkpointed.', format: 'date-time' }),
    sentAt: Type.Optional(Type.String({ description: 'When the send finished.', format: 'date-time' })),
    message: Type.Optional(Type.String({ description: 'What happened.', maxLength: 4096 })),
  },
  { description: 'One escalation of this Remediation.' },
);
export type EscalationRecord = Static<typeof EscalationRecord>;
