/** Names of the API, its annotations, condition types, reasons and Event reasons: one place. */

export const GROUP = 'kube-remediator.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}` as const;

export const RESOURCES = {
  remediation: { kind: 'Remediation', plural: 'remediations', singular: 'remediation', shortNames: ['rem'] },
  runbook: { kind: 'Runbook', plural: 'runbooks', singular: 'runbook', shortNames: ['rb'] },
} as const;

/**
 * `kubectl get kube-remediator` lists both kinds. Not `remediation`: kubectl expands a category
 * before it looks up a resource name, so a category equal to a resource's name hides it
 * (`kubectl get remediation` listed Runbooks too).
 */
export const CATEGORY = 'kube-remediator';

/** Annotations a person (or the intake) sets on a Remediation. */
export const ANNOTATIONS = {
  approvedBy: `${GROUP}/approved-by`,
  rejectedBy: `${GROUP}/rejected-by`,
  revert: `${GROUP}/revert`,
  /** Stamped on targets so that an action can tell it already happened (uid/step/attempt). */
  lastAction: `${GROUP}/last-action`,
  /** Set by a person on a Runbook to clear loop protection for a target: the target string. */
  clearBlock: `${GROUP}/clear-block`,
  /**
   * Who created a Remediation by hand: their Kubernetes user name, checked by the API server
   * (the chart's ValidatingAdmissionPolicy with `approvals.fourEyes`); absent on the intake's.
   */
  createdBy: `${GROUP}/created-by`,
} as const;

/**
 * The annotation a person sets to approve one step that has `requireApproval`:
 * `approved-by.kube-remediator.io/<step name>=<who>` (a step name is a DNS-1123 label, so the key is valid).
 */
export const stepApprovalAnnotation = (step: string): string => `approved-by.${GROUP}/${step}`;

export const LABELS = {
  runbook: `${GROUP}/runbook`,
  alertname: `${GROUP}/alertname`,
  fingerprint: `${GROUP}/fingerprint`,
  target: `${GROUP}/target`,
  managedBy: 'app.kubernetes.io/managed-by',
} as const;

export const CONDITION_TYPES = {
  /** Runbook: the spec is valid and the controller accepts it. */
  ready: 'Ready',
  /** Remediation: steps are being carried out. */
  progressing: 'Progressing',
  /** Remediation: finished with all steps done (True) or not (False). */
  succeeded: 'Succeeded',
  /** Remediation: waits for, or got, a person's approval. */
  approved: 'Approved',
  /** Remediation: cannot start (budget, lock, loop protection). */
  blocked: 'Blocked',
  /** Remediation: the reversible steps were undone. */
  reverted: 'Reverted',
  /** Remediation: a change it holds applied was put back by someone else (e.g. GitOps self-heal). */
  drifted: 'Drifted',
  /** Remediation: it holds the self-heal of a GitOps owner paused (gitops.policy: Pause). */
  gitopsPaused: 'GitOpsPaused',
  /** Remediation: the last run of its Runbook on its target succeeded, yet the alert fired again soon after. */
  previousRunIneffective: 'PreviousRunIneffective',
} as const;

export const REASONS = {
  valid: 'Valid',
  invalid: 'InvalidSpec',
  runbookNotFound: 'RunbookNotFound',
  runbookNotReady: 'RunbookNotReady',
  missingParam: 'MissingParam',
  outOfScope: 'OutOfScope',
  awaitingApproval: 'AwaitingApproval',
  approved: 'Approved',
  /** An approval by the person who created the Remediation, with four eyes on (approvals.fourEyes). */
  selfApproval: 'SelfApprovalRefused',
  rejected: 'Rejected',
  concurrencyLimit: 'ConcurrencyLimit',
  clusterBudget: 'ClusterBudget',
  targetLocked: 'TargetLocked',
  loopProtection: 'LoopProtection',
  stepRunning: 'StepRunning',
  stepRetrying: 'StepRetrying',
  stepFailed: 'StepFailed',
  boundExceeded: 'BoundExceeded',
  allStepsSucceeded: 'AllStepsSucceeded',
  dryRun: 'DryRun',
  revertRequested: 'RevertRequested',
  revertSucceeded: 'RevertSucceeded',
  revertFailed: 'RevertFailed',
  /** A revert waits for a newer Remediation's change to the same fields to be reverted first. */
  revertHeld: 'RevertHeld',
  /** Work after resolve: an `onResolve.before` or `onResolve.after` step runs. */
  resolveStepRunning: 'ResolveStepRunning',
  /** Work after resolve: the revert waits until the checks of `onResolve.gate` pass. */
  awaitingRevertGate: 'AwaitingRevertGate',
  /** Work after resolve: the gate did not pass in time and `onTimeout: Keep` kept the change. */
  revertGateTimeout: 'RevertGateTimeout',
  /** Work after resolve: an `onResolve.before` or `onResolve.after` step failed. */
  resolveStepFailed: 'ResolveStepFailed',
  started: 'Started',
  /** GitOps (gitops.policy): a target is deployed by Argo CD or Flux and the policy is Refuse. */
  gitopsManaged: 'GitOpsManaged',
  gitopsPaused: 'GitOpsPaused',
  gitopsRestored: 'GitOpsRestored',
  /** The pause was restored because gitops.maxPause passed, with the change still in place. */
  gitopsMaxPause: 'GitOpsMaxPauseReached',
  gitopsRestoreFailed: 'GitOpsRestoreFailed',
  /** A changed field was put back by someone else. */
  changedBack: 'ChangedBack',
  noDrift: 'NoDrift',
  /** A guard's check read fine and did not pass (the step or the run is skipped). */
  guardNotMet: 'GuardNotMet',
  /** A guard's check could not be read. */
  guardError: 'GuardError',
  /** Nobody approved by the deadline (requireApproval.timeout): Failed, or Proceeded without approval. */
  approvalTimedOut: 'ApprovalTimedOut',
  /** Nobody approved by the deadline and `onTimeout: Skip`: the run ended Skipped. */
  notApproved: 'NotApproved',
  /** A Succeeded run whose alert fired again within safety.ineffectiveWindow. */
  ineffective: 'Ineffective',
  /** A step's ServiceAccount lacks the RBAC for what the step reads or changes (ADR 0023). */
  forbidden: 'Forbidden',
} as const;

/**
 * Event reasons. A run records one Event per outcome (its end, its revert's end, a gate or a
 * wait, a Warning along the way), not one per step or checkpoint: each Event is an API write
 * (ADR 0026).
 */
export const EVENT_REASONS = {
  stepFailed: 'StepFailed',
  stepRetrying: 'StepRetrying',
  succeeded: 'RemediationSucceeded',
  failed: 'RemediationFailed',
  blocked: 'RemediationBlocked',
  awaitingApproval: 'AwaitingApproval',
  approved: 'Approved',
  /** An approval by the person who created the Remediation, with four eyes on (approvals.fourEyes). */
  selfApproval: 'SelfApprovalRefused',
  rejected: 'Rejected',
  reverting: 'Reverting',
  reverted: 'Reverted',
  revertHeld: 'RevertHeld',
  awaitingRevertGate: 'AwaitingRevertGate',
  revertGateOpen: 'RevertGateOpen',
  revertGateTimeout: 'RevertGateTimeout',
  resolveStepFailed: 'ResolveStepFailed',
  dryRun: 'DryRun',
  alertSuppressed: 'AlertSuppressed',
  runbookInvalid: 'RunbookInvalid',
  runbookValid: 'RunbookValid',
  gitopsManaged: 'GitOpsManaged',
  gitopsPaused: 'GitOpsPaused',
  gitopsRestored: 'GitOpsRestored',
  drifted: 'Drifted',
  guardNotMet: 'GuardNotMet',
  guardError: 'GuardError',
  stepSkipped: 'StepSkipped',
  approvalTimedOut: 'ApprovalTimedOut',
  escalated: 'Escalated',
  escalationFailed: 'EscalationFailed',
  ineffective: 'Ineffective',
} as const;
