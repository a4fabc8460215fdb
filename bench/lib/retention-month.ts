/**
 * A month of alert occurrences through retention (issue #14: "100,000 alert occurrences over a
 * simulated month leave at most the configured history in etcd"). The real `retentionPlan`
 * decides, on a simulated clock, at each point the Runbook reconciler would run it (a
 * Remediation of the Runbook finished, 2 s later); the "cluster" is the list of Remediations it
 * leaves. No API server: the question is what the rules keep, not how fast deletes go (the
 * retention e2e and `bench:storm` cover those).
 *
 * The bound it checks, per the rules of ADR 0022: for each Runbook, at most
 * `successfulHistoryLimit` + `failedHistoryLimit` finished ones, plus the newest
 * `maxConsecutiveFailures` attempts of each target (loop protection's evidence, kept whatever the
 * limits), plus those still running or with a change that waits for its revert.
 */
import type { Condition, Remediation, RemediationPhase, Runbook } from '../../src/api/v1alpha1/schema.js';
import { DEFAULT_MAX_CONSECUTIVE_FAILURES } from '../../src/api/v1alpha1/lifecycle.js';
import { retentionPlan, type RetentionLimits } from '../../src/controller/runbook/retention.js';

export interface MonthOptions {
  occurrences: number;
  days: number;
  runbooks: number;
  targetsPerRunbook: number;
  /** How long a run takes, from its creation to its final phase. */
  runSeconds: number;
  limits: RetentionLimits;
  /** A deterministic run: the same seed gives the same month. */
  seed: number;
}

export interface MonthResult {
  created: number;
  deleted: number;
  /** The most Remediations in the cluster at any time, and at the end of the month. */
  peak: number;
  final: number;
  /** What the rules allow at most (see the file's comment), for the peak. */
  bound: number;
  /** The most runs in flight at once (creation to final phase). */
  peakRunning: number;
  byPhaseAtEnd: Record<string, number>;
}

export const MONTH_DEFAULTS: MonthOptions = {
  occurrences: 100_000,
  days: 30,
  runbooks: 5,
  targetsPerRunbook: 20,
  runSeconds: 20,
  // The controller-wide defaults (config `retention`).
  limits: { successfulHistoryLimit: 20, failedHistoryLimit: 20, ttlSecondsAfterFinished: 604_800 },
  seed: 14,
};

/** mulberry32: small, seedable, good enough to spread alerts. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const condition = (type: string, status: Condition['status'], reason: string, at: string): Condition => ({
  type,
  status,
  reason,
  message: '',
  lastTransitionTime: at,
});

function finished(rem: Remediation, phase: RemediationPhase, at: Date): Remediation {
  const t = at.toISOString();
  const succeeded = phase !== 'Failed';
  return {
    ...rem,
    status: {
      ...rem.status,
      phase,
      completedAt: t,
      conditions: [
        condition(
          'Succeeded',
          succeeded ? 'True' : 'False',
          succeeded ? 'AllStepsSucceeded' : 'StepFailed',
          t,
        ),
        ...(phase === 'Reverted' ? [condition('Reverted', 'True', 'Reverted', t)] : []),
      ],
    },
  };
}

function runbookOf(i: number): Runbook {
  return {
    apiVersion: 'kube-remediator.io/v1alpha1',
    kind: 'Runbook',
    metadata: { name: `rb-${i}`, namespace: 'month' },
    spec: { steps: [{ name: 'restart', action: 'rolloutRestart', rolloutRestart: {} }] },
  };
}

type Happening = { at: number; kind: 'create' | 'finish'; name: string; runbook: number };

export function simulateMonth(o: MonthOptions = MONTH_DEFAULTS): MonthResult {
  const rnd = prng(o.seed);
  const t0 = Date.parse('2026-11-01T00:00:00Z');
  const span = o.days * 86_400_000;
  const runbooks = Array.from({ length: o.runbooks }, (_, i) => runbookOf(i));
  const cluster = new Map<string, Remediation>();
  const outcome = new Map<string, RemediationPhase>();
  const happenings: Happening[] = [];
  for (let i = 0; i < o.occurrences; i++) {
    const at = t0 + Math.floor(rnd() * span);
    const runbook = Math.floor(rnd() * o.runbooks);
    const name = `rem-${i}`;
    const r = rnd();
    // Most succeed; some fail; some change a target that is reverted when the alert resolves.
    outcome.set(name, r < 0.85 ? 'Succeeded' : r < 0.95 ? 'Failed' : 'Reverted');
    happenings.push({ at, kind: 'create', name, runbook });
    happenings.push({ at: at + o.runSeconds * 1000, kind: 'finish', name, runbook });
    const target = `Deployment/app-${runbook}-${Math.floor(rnd() * o.targetsPerRunbook)}`;
    cluster.set(name, {
      apiVersion: 'kube-remediator.io/v1alpha1',
      kind: 'Remediation',
      metadata: { name, namespace: 'month', uid: name, creationTimestamp: new Date(at).toISOString() },
      spec: { runbookRef: { name: `rb-${runbook}` } },
      status: { phase: 'Running', target, startedAt: new Date(at).toISOString() },
    });
  }
  // Objects enter the cluster at their creation: hold them aside until then.
  const pending = cluster;
  const live = new Map<string, Remediation>();
  happenings.sort((a, b) => a.at - b.at || (a.kind === b.kind ? 0 : a.kind === 'create' ? -1 : 1));
  let peak = 0;
  let peakRunning = 0;
  let running = 0;
  let deleted = 0;
  for (const h of happenings) {
    if (h.kind === 'create') {
      live.set(h.name, pending.get(h.name)!);
      peak = Math.max(peak, live.size);
      peakRunning = Math.max(peakRunning, ++running);
      continue;
    }
    running--;
    live.set(h.name, finished(live.get(h.name)!, outcome.get(h.name)!, new Date(h.at)));
    // The Runbook's pass that this finish wakes (ACTIVE_REMEDIATIONS_DELAY_MS later).
    const plan = retentionPlan({
      runbook: runbooks[h.runbook]!,
      remediations: [...live.values()],
      defaults: o.limits,
      now: new Date(h.at + 2000),
      unaudited: new Set(),
    });
    for (const d of plan.delete) live.delete(d.rem.metadata.name!);
    deleted += plan.delete.length;
  }
  const byPhaseAtEnd: Record<string, number> = {};
  for (const r of live.values()) byPhaseAtEnd[r.status!.phase!] = (byPhaseAtEnd[r.status!.phase!] ?? 0) + 1;
  const bound =
    o.runbooks * (o.limits.successfulHistoryLimit + o.limits.failedHistoryLimit) +
    o.runbooks * o.targetsPerRunbook * DEFAULT_MAX_CONSECUTIVE_FAILURES +
    peakRunning;
  return { created: o.occurrences, deleted, peak, final: live.size, bound, peakRunning, byPhaseAtEnd };
}
