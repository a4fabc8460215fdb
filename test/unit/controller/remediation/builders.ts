/** Object builders for the reconcile tables: only what a row cares about is spelled out. */
import { API_VERSION, CONDITION_TYPES } from '../../../../src/api/v1alpha1/constants.js';
import type {
  Condition,
  Remediation,
  RemediationSpec,
  RemediationStatus,
  Runbook,
  RunbookSpec,
  Step,
  StepStatus,
} from '../../../../src/api/v1alpha1/schema.js';
import type { ActionName } from '../../../../src/api/v1alpha1/schema.js';
import type { ActionInfo, Observed } from '../../../../src/controller/remediation/decision.js';
import { needsPeers } from '../../../../src/controller/remediation/protocol.js';
import { FakeClock } from '../../../../src/util/clock.js';

export const NS = 'shop';
export const T0 = new Date('2026-01-01T00:00:00Z');

export function aStep(over: Partial<Step> = {}): Step {
  return { name: 'restart', action: 'rolloutRestart', rolloutRestart: {}, ...over };
}

/** A step of another action, undone when the alert resolves: `over` names the action and its parameters. */
export function aReversibleStep(over: Partial<Step>): Step {
  return aStep({ rolloutRestart: undefined, revertOnResolve: true, ...over });
}

export function aRunbook(
  over: {
    name?: string;
    namespace?: string;
    spec?: Partial<RunbookSpec>;
    annotations?: Record<string, string>;
    generation?: number;
  } = {},
): Runbook {
  return {
    apiVersion: API_VERSION,
    kind: 'Runbook',
    metadata: {
      name: over.name ?? 'restart-web',
      namespace: over.namespace ?? NS,
      generation: over.generation ?? 1,
      annotations: over.annotations,
    },
    spec: {
      params: [{ name: 'deployment', from: 'labels.deployment' }],
      target: { apiVersion: 'apps/v1', kind: 'Deployment', name: '{{ deployment }}' },
      steps: [aStep()],
      ...over.spec,
    },
  };
}

let seq = 0;
export function aRemediation(
  over: {
    name?: string;
    namespace?: string;
    spec?: Partial<RemediationSpec>;
    status?: RemediationStatus;
    annotations?: Record<string, string>;
    created?: string;
    generation?: number;
  } = {},
): Remediation {
  seq++;
  return {
    apiVersion: API_VERSION,
    kind: 'Remediation',
    metadata: {
      name: over.name ?? `rem-${seq}`,
      namespace: over.namespace ?? NS,
      uid: `uid-${over.name ?? seq}`,
      generation: over.generation ?? 1,
      creationTimestamp: over.created ?? T0.toISOString(),
      annotations: over.annotations,
    },
    spec: {
      runbookRef: { name: 'restart-web' },
      alert: { name: 'WebDown', status: 'firing', labels: { deployment: 'web' } },
      ...over.spec,
    },
    ...(over.status ? { status: over.status } : {}),
  };
}

export function cond(type: string, status: Condition['status'], reason: string, at = T0): Condition {
  return {
    type,
    status,
    reason,
    message: '',
    lastTransitionTime: at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
  };
}

/** A peer that finished: Failed or Succeeded, on `target` (status.target form). */
export function aFinished(
  outcome: 'Failed' | 'Succeeded',
  opts: { name?: string; target?: string; completedAt?: string; runbook?: string } = {},
): Remediation {
  return aRemediation({
    name: opts.name,
    spec: { runbookRef: { name: opts.runbook ?? 'restart-web' } },
    status: {
      phase: outcome,
      target: opts.target ?? 'Deployment/web',
      startedAt: '2025-12-31T00:00:00Z',
      completedAt: opts.completedAt ?? '2025-12-31T01:00:00Z',
      conditions: [
        cond(
          CONDITION_TYPES.succeeded,
          outcome === 'Succeeded' ? 'True' : 'False',
          outcome === 'Succeeded' ? 'AllStepsSucceeded' : 'StepFailed',
        ),
      ],
    },
  });
}

/** A peer that is running on `target`. */
export function aRunning(
  opts: { name?: string; target?: string; runbook?: string; created?: string; namespace?: string } = {},
): Remediation {
  return aRemediation({
    name: opts.name,
    namespace: opts.namespace,
    created: opts.created,
    spec: { runbookRef: { name: opts.runbook ?? 'restart-web' } },
    status: { phase: 'Running', target: opts.target ?? 'Deployment/web', startedAt: '2025-12-31T23:00:00Z' },
  });
}

export const ACTION_INFO: Partial<Record<ActionName, ActionInfo>> = {
  rolloutRestart: { mutating: true, reversible: false },
  scale: { mutating: true, reversible: true },
  setEnv: { mutating: true, reversible: true },
  patch: { mutating: true, reversible: true },
  waitForRollout: { mutating: false, reversible: false },
  notify: { mutating: false, reversible: false },
};

/**
 * What the reconciler gathers for `rem`. The peers (default none) are there only when
 * `needsPeers` says the pass may look at them, as in the reconciler: a decision that looks at
 * peers the rule did not gather throws, so every table row also checks the rule.
 */
export function observed(rem: Remediation, over: Partial<Observed> & { clock?: FakeClock } = {}): Observed {
  const { clock, peers, ...rest } = over;
  const actionInfo = (n: ActionName): ActionInfo | undefined => ACTION_INFO[n];
  return {
    remediation: rem,
    runbook: rem.spec.runbookRef ? aRunbook() : undefined,
    runbookProblems: [],
    ...(needsPeers(rem, actionInfo) ? { peers: peers ?? [] } : {}),
    actionInfo,
    config: { maxConcurrentRemediations: 20, defaultStepTimeoutMs: 120_000 },
    now: clock?.now() ?? T0,
    ...rest,
  };
}

/** Applies a decision's status to the Remediation, as a successful status write would. */
export function withStatus(rem: Remediation, status: RemediationStatus): Remediation {
  return { ...rem, status: structuredClone(status) };
}

export function stepRec(over: Partial<StepStatus> & { spec?: Partial<Step> }): StepStatus {
  const spec = {
    ...aStep(),
    target: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: NS },
    ...over.spec,
  };
  return {
    name: spec.name,
    action: spec.action,
    phase: 'Pending',
    target: `Deployment/${NS}/web`,
    ...over,
    spec: spec,
  };
}
