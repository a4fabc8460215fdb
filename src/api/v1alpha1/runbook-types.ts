/** The Runbook kind: which alerts it answers, which steps it runs, under which safety rules. */
import { Type, type Static } from '@sinclair/typebox';
import {
  Conditions,
  DNS1123_LABEL,
  DNS1123_SUBDOMAIN,
  DURATION,
  LABEL_NAME,
  ObjectMeta,
  PARAM_NAME,
  QUANTITY,
  StringEnum,
  TargetRef,
} from './shared-types.js';
import { OnResolve } from './resolve-types.js';
import { NotifyParams, Step, Guard } from './step-types.js';
import { ApprovalPolicy } from './gate-types.js';
import { EscalationList } from './escalation-types.js';

export const MATCH_OPS = ['=', '!=', '=~', '!~'] as const;
export type MatchOp = (typeof MATCH_OPS)[number];

export const Matcher = Type.Object(
  {
    label: Type.String({ description: 'Alert label name.', pattern: LABEL_NAME, maxLength: 256 }),
    op: StringEnum(
      MATCH_OPS,
      'Match operator as in Alertmanager: `=` equal, `!=` not equal, `=~` regex match, `!~` regex non-match. Regular expressions are anchored.',
      { default: '=' },
    ),
    value: Type.String({
      description: 'Value or regular expression to compare the label with.',
      maxLength: 1024,
    }),
  },
  { description: 'A condition on one alert label.' },
);
export type Matcher = Static<typeof Matcher>;

export const Trigger = Type.Object(
  {
    alertname: Type.String({
      description: 'The `alertname` label this trigger answers.',
      minLength: 1,
      maxLength: 256,
    }),
    matchers: Type.Optional(
      Type.Array(Matcher, { description: 'Further label conditions; all must hold.', maxItems: 32 }),
    ),
    status: Type.Optional(
      StringEnum(
        ['firing'] as const,
        'Alert status that starts a remediation; only `firing` (resolved alerts revert).',
        { default: 'firing' },
      ),
    ),
  },
  { description: 'Which alerts start this runbook: an alertname plus label matchers.' },
);
export type Trigger = Static<typeof Trigger>;

export const Param = Type.Object(
  {
    name: Type.String({
      description: 'Name used in templates, e.g. `deployment` for `{{ deployment }}`.',
      pattern: PARAM_NAME,
      maxLength: 63,
    }),
    from: Type.Optional(
      Type.String({
        description:
          'Where the value comes from: `labels.<name>` or `annotations.<name>` of the alert. A Remediation may also set the param directly in `spec.params`.',
        pattern: '^(labels|annotations)\\.[a-zA-Z_][a-zA-Z0-9_]*$',
        maxLength: 300,
      }),
    ),
    default: Type.Optional(Type.String({ description: 'Value when the source is absent.', maxLength: 1024 })),
    required: Type.Optional(
      Type.Boolean({
        description: 'Refuse to start (reason MissingParam) when the param has no value.',
        default: true,
      }),
    ),
  },
  { description: 'A named value templated into steps from the alert.' },
);
export type Param = Static<typeof Param>;

export const Bounds = Type.Object(
  {
    minReplicas: Type.Optional(
      Type.Integer({
        description: 'Lowest replica count a step may set (scale or patch). 0 allows scale-to-zero.',
        minimum: 0,
      }),
    ),
    maxReplicas: Type.Optional(
      Type.Integer({ description: 'Highest replica count a step may set (scale or patch).', minimum: 0 }),
    ),
    maxMemory: Type.Optional(
      Type.String({
        description: 'Highest memory request or limit a patch may set on a container, e.g. `2Gi`.',
        pattern: QUANTITY,
      }),
    ),
    maxCpu: Type.Optional(
      Type.String({
        description: 'Highest CPU request or limit a patch may set on a container, e.g. `2` or `1500m`.',
        pattern: QUANTITY,
      }),
    ),
    maxStorage: Type.Optional(
      Type.String({
        description: 'Highest storage request a patch may set (PVCs, volumeClaimTemplates), e.g. `100Gi`.',
        pattern: QUANTITY,
      }),
    ),
    allowedPatchPaths: Type.Optional(
      Type.Array(Type.String({ pattern: '^/', maxLength: 512 }), {
        description:
          'JSON-pointer prefixes a patch may touch, e.g. `/spec/template/spec/containers`. Any path outside is refused. Empty allows all.',
        maxItems: 64,
      }),
    ),
  },
  { description: 'Limits that every mutating step is checked against before anything is sent.' },
);
export type Bounds = Static<typeof Bounds>;

export const Safety = Type.Object(
  {
    allowedNamespaces: Type.Optional(
      Type.Array(Type.String({ pattern: DNS1123_LABEL, maxLength: 63 }), {
        description: "Namespaces the runbook may act in. Default: only the Runbook's own namespace.",
        maxItems: 256,
      }),
    ),
    cooldown: Type.Optional(
      Type.String({
        description:
          'After a remediation starts, ignore new alerts for the same runbook and target for this long, e.g. `10m`.',
        pattern: DURATION,
      }),
    ),
    maxPerHour: Type.Optional(
      Type.Integer({
        description: 'At most this many remediations per hour for this runbook.',
        minimum: 1,
        maximum: 10000,
      }),
    ),
    maxConcurrent: Type.Optional(
      Type.Integer({
        description:
          'At most this many remediations of this runbook running at once; the rest wait in Pending.',
        minimum: 1,
        maximum: 1000,
      }),
    ),
    requireApproval: Type.Optional(
      Type.Boolean({
        description:
          'Wait in AwaitingApproval until a person annotates `kube-remediator.io/approved-by=<who>`.',
        default: false,
      }),
    ),
    maxConsecutiveFailures: Type.Optional(
      Type.Integer({
        description:
          'After this many failures in a row on one target, new remediations end Blocked until a person clears it.',
        minimum: 1,
        maximum: 100,
        default: 3,
      }),
    ),
    bounds: Type.Optional(Bounds),
    approval: Type.Optional(
      Type.Object(ApprovalPolicy.properties, {
        description:
          'The deadline of `requireApproval` and what happens at it (`Skip` ends the Remediation `Skipped`). Absent: wait until someone decides.',
      }),
    ),
    ineffectiveWindow: Type.Optional(
      Type.String({
        description:
          'A run that Succeeded counts as a failure for `maxConsecutiveFailures` (reason Ineffective) when a new Remediation of this runbook on the same target is created within this long after it finished, e.g. `10m` (the default); `0s` turns it off.',
        pattern: DURATION,
      }),
    ),
  },
  { description: 'Safety rules applied before and during execution.' },
);
export type Safety = Static<typeof Safety>;

export const OnFailure = Type.Object(
  {
    revert: Type.Optional(
      Type.Boolean({
        description: 'Undo the reversible steps already done when a step fails.',
        default: false,
      }),
    ),
    notify: Type.Optional(NotifyParams),
  },
  { description: 'What to do when a step fails for good.' },
);

export const GITOPS_POLICIES = ['Refuse', 'Pause', 'Coexist'] as const;
export type GitOpsPolicy = (typeof GITOPS_POLICIES)[number];

export const GitOpsSettings = Type.Object(
  {
    policy: Type.Optional(
      StringEnum(
        GITOPS_POLICIES,
        "What to do when a target this runbook changes is deployed by Argo CD or Flux (read from the target's tracking annotation or labels). Refuse: change nothing, end Skipped with reason GitOpsManaged. Pause: first pause the owner's self-heal (Argo CD Application `spec.syncPolicy.automated.selfHeal: false`, Flux Kustomization/HelmRelease `spec.suspend: true`), recording the exact prior value, and restore it when the changes are reverted, when the run fails, when the alert resolves, or after `maxPause`. Coexist: change it anyway, as field manager `kube-remediator` (set up Argo CD's `ignoreDifferences.managedFieldsManagers` and `RespectIgnoreDifferences=true` so that the change sticks). Default: the operator's `gitops.defaultPolicy`.",
      ),
    ),
    maxPause: Type.Optional(
      Type.String({
        description:
          "Under Pause: the owner is restored after this long at the latest, even while the change is still in place (GitOps then puts Git's value back; the Remediation reports that as drift). Default: the operator's `gitops.defaultMaxPause`.",
        pattern: DURATION,
      }),
    ),
  },
  { description: 'How this runbook treats targets that a GitOps controller (Argo CD, Flux) deploys.' },
);
export type GitOpsSettings = Static<typeof GitOpsSettings>;

export const RunbookSpec = Type.Object(
  {
    description: Type.Optional(
      Type.String({ description: 'What the runbook is for, in a sentence.', maxLength: 2048 }),
    ),
    triggers: Type.Optional(
      Type.Array(Trigger, {
        description:
          'Alerts that start this runbook. Without triggers it runs only from hand-made Remediations.',
        maxItems: 32,
      }),
    ),
    params: Type.Optional(
      Type.Array(Param, { description: 'Named values templated into the steps.', maxItems: 64 }),
    ),
    target: Type.Optional(TargetRef),
    steps: Type.Array(Step, { description: 'The steps, run in order.', minItems: 1, maxItems: 50 }),
    safety: Type.Optional(Safety),
    onFailure: Type.Optional(OnFailure),
    onResolve: Type.Optional(OnResolve),
    gitops: Type.Optional(GitOpsSettings),
    guard: Type.Optional(Guard),
    escalation: Type.Optional(EscalationList),
    serviceAccountName: Type.Optional(
      Type.String({
        description:
          "ServiceAccount of this Runbook's namespace whose rights the steps run with: every read and change of a target, and every secretKeyRef, is made impersonating it, so Kubernetes RBAC decides what the Runbook may touch. Default: the operator's `identity.defaultServiceAccount` (`default`). Ignored when the operator runs in single-tenant mode (`identity.mode: operator`).",
        pattern: DNS1123_SUBDOMAIN,
        maxLength: 253,
      }),
    ),
    suspend: Type.Optional(
      Type.Boolean({
        description: 'Stop matching alerts to this runbook (hand-made Remediations still run).',
        default: false,
      }),
    ),
    successfulHistoryLimit: Type.Optional(
      Type.Integer({
        description:
          'Finished Remediations of this runbook that did not fail (Succeeded, Reverted, Skipped, DryRun) kept in the cluster, newest first; older ones are deleted (the audit log keeps their history). Default: the controller-wide retention.successfulHistoryLimit (20). A Remediation that runs, waits for a revert on resolve, holds a layered revert, is still needed by loop protection, or whose audit rows are not yet written is never deleted.',
        minimum: 0,
        maximum: 10000,
      }),
    ),
    failedHistoryLimit: Type.Optional(
      Type.Integer({
        description:
          'Finished Remediations of this runbook that failed or were blocked kept in the cluster, newest first. Default: the controller-wide retention.failedHistoryLimit (20).',
        minimum: 0,
        maximum: 10000,
      }),
    ),
    ttlSecondsAfterFinished: Type.Optional(
      Type.Integer({
        description:
          'Seconds after a Remediation of this runbook finished (status.completedAt) when it is deleted, whatever the history limits. Default: the controller-wide retention.ttlSecondsAfterFinished (604800, 7 days); 0 deletes as soon as it may be.',
        minimum: 0,
      }),
    ),
  },
  { description: 'RunbookSpec: which alerts, which steps, which safety rules.' },
);
export type RunbookSpec = Static<typeof RunbookSpec>;

export const RunbookStatus = Type.Object(
  {
    observedGeneration: Type.Optional(
      Type.Integer({ description: 'The generation the controller last validated.', minimum: 0 }),
    ),
    conditions: Type.Optional(Conditions),
    matchedAlerts: Type.Optional(
      Type.Integer({ description: 'How many alerts matched this runbook since it was created.', minimum: 0 }),
    ),
    lastFiredAt: Type.Optional(
      Type.String({
        description: 'When an alert last started a remediation from this runbook.',
        format: 'date-time',
      }),
    ),
    stepCount: Type.Optional(
      Type.Integer({ description: 'Number of steps (for `kubectl get rb`).', minimum: 0 }),
    ),
    activeRemediations: Type.Optional(
      Type.Integer({
        description:
          'Remediations of this runbook not yet finished. A summary for `kubectl get rb`, recounted about 2 s after they start or finish (nothing decides on it).',
        minimum: 0,
      }),
    ),
  },
  { description: 'RunbookStatus: validation result and usage.' },
);
export type RunbookStatus = Static<typeof RunbookStatus>;

export interface Runbook {
  apiVersion: 'kube-remediator.io/v1alpha1';
  kind: 'Runbook';
  metadata: ObjectMeta;
  spec: RunbookSpec;
  status?: RunbookStatus;
}
