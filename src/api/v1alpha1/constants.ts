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
} as const;

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
  started: 'Started',
  /** A step's ServiceAccount lacks the RBAC for what the step reads or changes (ADR 0023). */
  forbidden: 'Forbidden',
} as const;

export const EVENT_REASONS = {
  started: 'RemediationStarted',
  stepStarted: 'StepStarted',
  stepSucceeded: 'StepSucceeded',
  stepFailed: 'StepFailed',
  stepRetrying: 'StepRetrying',
  succeeded: 'RemediationSucceeded',
  failed: 'RemediationFailed',
  blocked: 'RemediationBlocked',
  awaitingApproval: 'AwaitingApproval',
  approved: 'Approved',
  rejected: 'Rejected',
  reverting: 'Reverting',
  reverted: 'Reverted',
  revertHeld: 'RevertHeld',
  dryRun: 'DryRun',
  remediated: 'Remediated',
  alertSuppressed: 'AlertSuppressed',
  runbookInvalid: 'RunbookInvalid',
  runbookValid: 'RunbookValid',
} as const;
