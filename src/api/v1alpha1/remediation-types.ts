/** The Remediation kind: one alert occurrence answered by one run of steps, and its audit record. */
import { Type, type Static } from '@sinclair/typebox';
import {
  Conditions,
  DNS1123_SUBDOMAIN,
  FreeObject,
  ObjectMeta,
  StringEnum,
  StringMap,
  TargetRef,
} from './shared-types.js';
import { ACTIONS, Step } from './step-types.js';
import { Bounds, Safety } from './runbook-types.js';
import { STEP_STAGES } from './resolve-types.js';
import { ApprovalWait, EscalationRecord, GuardRecord, StepApproval } from './gate-types.js';

export const ALERT_STATUSES = ['firing', 'resolved'] as const;

export const AlertInfo = Type.Object(
  {
    name: Type.String({ description: 'The alertname.', minLength: 1, maxLength: 256 }),
    fingerprint: Type.Optional(
      Type.String({
        description: "Alertmanager's fingerprint of the alert's labels.",
        pattern: '^[0-9a-fA-F]{1,64}$',
      }),
    ),
    startsAt: Type.Optional(
      Type.String({ description: 'When the alert started firing.', format: 'date-time' }),
    ),
    endsAt: Type.Optional(
      Type.String({ description: 'When the alert ended, if it did.', format: 'date-time' }),
    ),
    status: Type.Optional(StringEnum(ALERT_STATUSES, 'Last known alert status.')),
    labels: Type.Optional(StringMap('Alert labels.')),
    annotations: Type.Optional(StringMap('Alert annotations.')),
    generatorURL: Type.Optional(
      Type.String({ description: 'Link to the source of the alert.', maxLength: 2048 }),
    ),
  },
  { description: 'The alert this remediation answers, as Alertmanager sent it.' },
);
export type AlertInfo = Static<typeof AlertInfo>;

export const RemediationSpec = Type.Object(
  {
    runbookRef: Type.Optional(
      Type.Object(
        {
          name: Type.String({
            description: 'Name of a Runbook in the same namespace.',
            pattern: DNS1123_SUBDOMAIN,
            minLength: 1,
            maxLength: 253,
          }),
        },
        { description: 'The Runbook whose steps and safety rules to use. Either this or `steps`.' },
      ),
    ),
    steps: Type.Optional(
      Type.Array(Step, {
        description:
          'Inline steps, for a one-off remediation without a Runbook. Either this or `runbookRef`.',
        maxItems: 50,
      }),
    ),
    safety: Type.Optional(Safety),
    params: Type.Optional(StringMap('Param values; they override values derived from the alert.')),
    target: Type.Optional(TargetRef),
    alert: Type.Optional(AlertInfo),
    serviceAccountName: Type.Optional(
      Type.String({
        description:
          "For inline `steps` only: ServiceAccount of this namespace whose rights the steps run with (as a Runbook's `serviceAccountName`). With `runbookRef` the Runbook's applies. Default: the operator's `identity.defaultServiceAccount`.",
        pattern: DNS1123_SUBDOMAIN,
        maxLength: 253,
      }),
    ),
    dryRun: Type.Optional(
      Type.Boolean({
        description: 'Send every change with `dryRun=All`, record the would-be diff, change nothing.',
        default: false,
      }),
    ),
  },
  { description: 'RemediationSpec: what to run, on what, and why.' },
);
export type RemediationSpec = Static<typeof RemediationSpec>;

export const REMEDIATION_PHASES = [
  'Pending',
  'AwaitingApproval',
  'Running',
  'Verifying',
  'Succeeded',
  'Failed',
  'Blocked',
  'Reverting',
  'Reverted',
  'Skipped',
  'DryRun',
] as const;
export type RemediationPhase = (typeof REMEDIATION_PHASES)[number];

export const STEP_PHASES = [
  'Pending',
  'Running',
  'Succeeded',
  'Failed',
  'Skipped',
  'DryRun',
  'Reverting',
  'Reverted',
] as const;
export type StepPhase = (typeof STEP_PHASES)[number];

export const LayeredOn = Type.Object(
  {
    remediation: Type.String({ description: 'The other Remediation, `namespace/name`.', maxLength: 317 }),
    uid: Type.String({
      description: 'Its uid (a Remediation created again under the name is another).',
      maxLength: 64,
    }),
    step: Type.String({ description: 'Its step whose change this step changed again.', maxLength: 63 }),
  },
  { description: 'A change of another Remediation that a step changed again.' },
);
export type LayeredOn = Static<typeof LayeredOn>;

export const StepStatus = Type.Object(
  {
    name: Type.String({ description: 'Name of the step.', maxLength: 63 }),
    action: StringEnum(ACTIONS, 'Action of the step.'),
    phase: StringEnum(STEP_PHASES, 'Where the step is.'),
    attempt: Type.Optional(Type.Integer({ description: 'Attempt number, from 1.', minimum: 0 })),
    startedAt: Type.Optional(
      Type.String({
        description: 'When the current attempt started (checkpointed before the side effect).',
        format: 'date-time',
      }),
    ),
    finishedAt: Type.Optional(Type.String({ description: 'When the step finished.', format: 'date-time' })),
    nextAttemptAt: Type.Optional(
      Type.String({ description: 'When the next retry is due.', format: 'date-time' }),
    ),
    message: Type.Optional(Type.String({ description: 'What happened, for people.', maxLength: 32768 })),
    target: Type.Optional(
      Type.String({ description: 'The resolved target, `Kind/namespace/name`.', maxLength: 600 }),
    ),
    spec: Type.Optional(
      FreeObject(
        'The step as it runs: copied from the Runbook (or spec.steps) at start with every param rendered, so that editing the Runbook never changes a Remediation in flight.',
      ),
    ),
    before: Type.Optional(
      FreeObject('The exact values the step changed, as they were before (used for revert).'),
    ),
    after: Type.Optional(FreeObject('The values after the step.')),
    diff: Type.Optional(FreeObject('For dry runs: the would-be change.')),
    output: Type.Optional(
      FreeObject(
        'What the step read, for the person who looks later: e.g. `{reply}` (redisCheck `record`), `{columns, rows, rowCount}` (postgresCheck `recordRows`), `{status, body}` (httpCall), `{samples}` (prometheusQuery), `{pods: [{name, container, lines}]}` (podLogs). Bounded (a cut is marked `truncated: true`); URL credentials and secret-looking values are masked. Also in the audit row of the step.',
      ),
    ),
    revertedAt: Type.Optional(
      Type.String({ description: 'When the step was reverted.', format: 'date-time' }),
    ),
    revertAttempt: Type.Optional(
      Type.Integer({ description: 'Attempt number of the revert, from 1.', minimum: 0 }),
    ),
    revertedFrom: Type.Optional(
      StringEnum(
        ['Succeeded', 'Failed'] as const,
        'The phase the step had when its revert started (restored if the revert fails).',
      ),
    ),
    stage: Type.Optional(
      StringEnum(
        STEP_STAGES,
        "Absent for the run's own steps. For the work after resolve (a Runbook's `onResolve`): `BeforeRevert` (`onResolve.before`), `RevertGate` (`onResolve.gate`, the step `revert-gate`), `AfterRevert` (`onResolve.after`). Pending until the alert resolves.",
      ),
    ),
    layeredOn: Type.Optional(
      Type.Array(LayeredOn, {
        description:
          "Other Remediations whose change to the same fields of the same target was in place when this step planned: its `before` is their value. Their reverts wait until this step's change is reverted (reverts unwind newest first).",
        maxItems: 64,
      }),
    ),
    guard: Type.Optional(GuardRecord),
    approval: Type.Optional(StepApproval),
  },
  { description: 'The record of one step.' },
);
export type StepStatus = Static<typeof StepStatus>;

export const GitOpsOwnerRecord = Type.Object(
  {
    target: Type.String({ description: 'The target, `Kind/namespace/name`.', maxLength: 600 }),
    controller: StringEnum(['ArgoCD', 'Flux'] as const, 'The GitOps controller that deploys it.'),
    apiVersion: Type.String({ description: 'apiVersion of the owner.', maxLength: 253 }),
    kind: Type.String({
      description: 'Kind of the owner: Application, Kustomization or HelmRelease.',
      maxLength: 63,
    }),
    namespace: Type.String({ description: 'Namespace of the owner.', maxLength: 253 }),
    name: Type.String({ description: 'Name of the owner.', maxLength: 253 }),
    via: Type.String({ description: 'The annotation or label it was read from.', maxLength: 253 }),
  },
  { description: 'A target that a GitOps controller deploys, and the object that deploys it.' },
);
export type GitOpsOwnerRecord = Static<typeof GitOpsOwnerRecord>;

export const DriftRecord = Type.Object(
  {
    step: Type.String({ description: 'The step whose change was put back.', maxLength: 63 }),
    target: Type.Optional(Type.String({ description: 'Its target, `Kind/namespace/name`.', maxLength: 600 })),
    at: Type.String({ description: 'When the controller saw it.', format: 'date-time' }),
    expected: Type.Optional(FreeObject('What the step set (its `after`).')),
    found: Type.Optional(FreeObject('What the target held instead.')),
  },
  { description: 'A change of this run that someone else put back while the run held it applied.' },
);
export type DriftRecord = Static<typeof DriftRecord>;

export const GitOpsStatus = Type.Object(
  {
    policy: StringEnum(['Refuse', 'Pause', 'Coexist'] as const, 'The policy in force for this run.'),
    owners: Type.Optional(
      Type.Array(GitOpsOwnerRecord, {
        description: 'The targets this run changes that a GitOps controller deploys; empty when none.',
        maxItems: 50,
      }),
    ),
    message: Type.Optional(
      Type.String({ description: 'What the policy decided, for people.', maxLength: 4096 }),
    ),
    drift: Type.Optional(
      Type.Array(DriftRecord, {
        description: 'Changes of this run that were put back by someone else (e.g. GitOps self-heal).',
        maxItems: 50,
      }),
    ),
    watchUntil: Type.Optional(
      Type.String({
        description: 'Until when the controller re-reads the changed targets for drift.',
        format: 'date-time',
      }),
    ),
  },
  {
    description: 'GitOps: who deploys the targets, what the policy decided, and drift seen after the change.',
  },
);
export type GitOpsStatus = Static<typeof GitOpsStatus>;

const Signoff = Type.Object(
  {
    by: Type.String({
      description:
        'Who: the user name Kubernetes authenticated (verified), or, in single-tenant mode, as written in the annotation.',
      maxLength: 256,
    }),
    at: Type.String({ description: 'When the controller saw it.', format: 'date-time' }),
    verified: Type.Optional(
      Type.Boolean({
        description:
          'True when the operator checked who it was (`kube-remediator approve|reject`: TokenReview, then a SubjectAccessReview for verb `approve` on `remediations`); absent for an annotation, which anyone who may annotate can write.',
      }),
    ),
    groups: Type.Optional(
      Type.Array(Type.String({ maxLength: 256 }), {
        description: 'The verified user groups, as the TokenReview gave them.',
        maxItems: 64,
      }),
    ),
  },
  { description: "A person's decision, recorded." },
);

const StepSignoff = Type.Object(
  {
    step: Type.String({ description: 'The step (`steps[].name`) approved.', maxLength: 63 }),
    ...Signoff.properties,
  },
  { description: "A person's verified approval of one step (`steps[].requireApproval`)." },
);

export const RemediationStatus = Type.Object(
  {
    phase: Type.Optional(
      StringEnum(
        REMEDIATION_PHASES,
        'Overall phase, derived from the steps and conditions. Pending: not started (waiting for its Runbook, a concurrency slot or the target lock). AwaitingApproval: waiting for the approved-by annotation. Running: steps are running. Verifying: the changes are made and only checks are left (waitForRollout, httpCheck, redisCheck, postgresCheck, prometheusQuery, podLogs). Succeeded, Failed, Skipped (rejected, or resolved before start), Blocked (loop protection), DryRun: final. Reverting, Reverted: undoing the revertOnResolve steps, and done.',
      ),
    ),
    observedGeneration: Type.Optional(
      Type.Integer({ description: 'The generation the controller last acted on.', minimum: 0 }),
    ),
    conditions: Type.Optional(Conditions),
    steps: Type.Optional(
      Type.Array(StepStatus, {
        description:
          "One record per step, in order: the run's steps, then those of `onResolve` (marked with their `stage`).",
        maxItems: 100,
      }),
    ),
    progress: Type.Optional(
      Type.String({ description: 'Steps done of all, e.g. `2/5` (for `kubectl get rem`).', maxLength: 16 }),
    ),
    target: Type.Optional(
      Type.String({ description: 'The resolved main target, `Kind/name`.', maxLength: 600 }),
    ),
    runbookGeneration: Type.Optional(
      Type.Integer({
        description: 'Generation of the Runbook whose steps were copied at start.',
        minimum: 0,
      }),
    ),
    bounds: Type.Optional(
      // Same fields as safety.bounds, own description: this is the copy, not the rule.
      Type.Object(Bounds.properties, {
        description:
          'The `safety.bounds` every step of this run is checked against, copied with the steps (`{}` when there are none), so that editing or deleting the Runbook (or `spec.safety`) never loosens or drops them mid-run. Absent on runs started by a version without this field: those use the current bounds.',
      }),
    ),
    startedAt: Type.Optional(
      Type.String({ description: 'When the first step started.', format: 'date-time' }),
    ),
    dryRun: Type.Optional(
      Type.Boolean({
        description:
          'Whether this run is a dry run, fixed when it starts; later changes to spec.dryRun are ignored.',
      }),
    ),
    completedAt: Type.Optional(
      Type.String({ description: 'When the remediation reached a final phase.', format: 'date-time' }),
    ),
    identity: Type.Optional(
      Type.String({
        description:
          'Whose rights the steps run with, fixed when they are copied: `system:serviceaccount:<namespace>:<name>` (impersonated), or `operator` (single-tenant mode).',
        maxLength: 320,
      }),
    ),
    approval: Type.Optional(Signoff),
    rejection: Type.Optional(Signoff),
    stepApprovals: Type.Optional(
      Type.Array(StepSignoff, {
        description:
          "Verified approvals of single steps (`kube-remediator approve NAME --step STEP`), written by the operator's approval endpoint; in serviceAccount mode the only approval a step with `requireApproval` accepts.",
        maxItems: 100,
      }),
    ),
    revertRequestedAt: Type.Optional(
      Type.String({
        description: 'When a revert was asked for (alert resolved or annotation).',
        format: 'date-time',
      }),
    ),
    revertMode: Type.Optional(
      StringEnum(
        ['onResolve', 'onFailure'] as const,
        'Which revert is under way, fixed when it starts: the steps marked revertOnResolve (a revert request) or every reversible step (onFailure.revert). Later changes to the Runbook do not change the set.',
      ),
    ),
    message: Type.Optional(Type.String({ description: 'Summary for people.', maxLength: 32768 })),
    gitops: Type.Optional(GitOpsStatus),
    guard: Type.Optional(GuardRecord),
    awaitingApproval: Type.Optional(ApprovalWait),
    escalations: Type.Optional(
      Type.Array(EscalationRecord, { description: 'The escalations due so far, in order.', maxItems: 8 }),
    ),
  },
  { description: 'RemediationStatus: the audit record of what was done.' },
);
export type RemediationStatus = Static<typeof RemediationStatus>;

export interface Remediation {
  apiVersion: 'kube-remediator.io/v1alpha1';
  kind: 'Remediation';
  metadata: ObjectMeta;
  spec: RemediationSpec;
  status?: RemediationStatus;
}
