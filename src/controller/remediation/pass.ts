/**
 * The working copy of one decision: the status as it is being decided, the notes that describe
 * it and the requeue. Gates read it through `GateView`; only the decision's own stages (gates
 * evaluated by `applyVerdict`, the forward and revert stages, the records of effects) write it.
 */
import type { Remediation, RemediationStatus } from '../../api/v1alpha1/schema.js';
import type { ResolvedTarget } from '../../actions/types.js';
import type { AuditEventType } from '../../audit/types.js';
import { rfc3339, rfc3339Milli } from '../../util/clock.js';
import { displayTarget, targetKey } from '../../runbook/target.js';
import { conditionChanged, setCondition, type ConditionInput } from '../../api/v1alpha1/conditions.js';
import type { Decision, Note, Observed, Operation } from './decision.js';
import { stepTarget } from './resolve.js';
import { derivePhase, isDryRun, progressOf } from './status.js';
import { targetKeyOf } from '../../api/v1alpha1/lifecycle.js';
import { isActive } from './policy.js';

/** What a gate may look at: the observed world and the status decided so far. */
export interface GateView {
  readonly obs: Observed;
  readonly rem: Remediation;
  readonly s: Readonly<RemediationStatus>;
  readonly now: Date;
  readonly nowText: string;
  readonly dryRun: boolean;
  /** The main target, for Events on it and for the lock. */
  mainTarget(): ResolvedTarget | undefined;
  mainKey(): string | undefined;
  /** Every Remediation the cache knows, our own starts laid over them (Observed.peers). */
  peers(): readonly Remediation[];
  /**
   * The peers on target `key` (`targetKeyOf`), picked once per pass: all that the lock, loop
   * protection and the ineffective-run check look at. Each of those filters by the target
   * first, so handing them this list instead of every peer changes no verdict; in the storm
   * benchmark, scanning all 1,000 peers once per rule was a quarter of the operator's CPU.
   */
  peersOn(key: string | undefined): readonly Remediation[];
  /** The active peers (Running, Verifying, Reverting), picked once per pass: what the budgets count. */
  activePeers(): readonly Remediation[];
  /**
   * The peers with a step on one of `targets` (`status.steps[].target`): all that can hold a
   * revert of steps on those targets (layering.ts: a hold is a change to the same fields of
   * the same target).
   */
  peersWithStepOn(targets: Iterable<string>): readonly Remediation[];
}

/** `namespace/name` of a Remediation, as messages name it. */
export const remediationName = (rem: Remediation): string =>
  `${rem.metadata.namespace ?? ''}/${rem.metadata.name ?? ''}`;

export function eventNote(
  type: 'Normal' | 'Warning',
  reason: string,
  message: string,
  target?: ResolvedTarget,
): Note {
  return { kind: 'event', type, reason, message, ...(target ? { target } : {}) };
}

export function auditNote(
  event: AuditEventType,
  message: string,
  extra: { step?: string; phase?: string; details?: Record<string, unknown> } = {},
): Note {
  return { kind: 'audit', event, message, ...extra };
}

/** What the rules asked of one peers list so far: each view is picked once, when first asked for. */
interface PeerViews {
  onTarget: Map<string, readonly Remediation[]>;
  active?: readonly Remediation[];
}

/**
 * The views of a peers list, shared by the several Pass objects a pass builds on one list
 * (Observed.peers: the decision, the effect's record, the follow-up). A filter per view asked
 * for, not an index of every target: a pass asks for one target.
 */
const views = new WeakMap<readonly Remediation[], PeerViews>();
function viewsOf(peers: readonly Remediation[]): PeerViews {
  let v = views.get(peers);
  if (!v) views.set(peers, (v = { onTarget: new Map() }));
  return v;
}

export class Pass implements GateView {
  readonly s: RemediationStatus;
  readonly notes: Note[] = [];
  requeueAfterMs?: number;
  readonly rem: Remediation;
  readonly gen: number | undefined;
  readonly now: Date;
  readonly nowText: string;
  /** `now` with milliseconds, for status.completedAt: it orders runs that end within a second. */
  readonly nowMilli: string;

  constructor(
    readonly obs: Observed,
    private readonly observed: RemediationStatus | undefined,
  ) {
    this.rem = obs.remediation;
    this.s = structuredClone(observed ?? {});
    this.gen = this.rem.metadata.generation;
    this.now = obs.now;
    this.nowText = rfc3339(obs.now);
    this.nowMilli = rfc3339Milli(obs.now);
  }

  get dryRun(): boolean {
    return isDryRun(this.rem, this.s);
  }

  /** Sets a condition; returns true when its status or reason changed (the moment for an Event). */
  cond(input: ConditionInput): boolean {
    const before = this.s.conditions;
    this.s.conditions = setCondition(before, input, this.now, this.gen);
    return conditionChanged(before, this.s.conditions, input.type);
  }

  event(type: 'Normal' | 'Warning', reason: string, message: string, target?: ResolvedTarget): void {
    this.notes.push(eventNote(type, reason, message, target));
  }

  audit(
    event: AuditEventType,
    message: string,
    extra: { step?: string; phase?: string; details?: Record<string, unknown> } = {},
  ): void {
    this.notes.push(auditNote(event, message, extra));
  }

  requeue(ms: number): void {
    this.requeueAfterMs = this.requeueAfterMs === undefined ? ms : Math.min(this.requeueAfterMs, ms);
  }

  mainTarget(): ResolvedTarget | undefined {
    for (const rec of this.s.steps ?? []) {
      const t = stepTarget(rec);
      if (t && displayTarget(t, this.rem.metadata.namespace ?? '') === this.s.target) return t;
    }
    return undefined;
  }

  mainKey(): string | undefined {
    const t = this.mainTarget();
    return t ? targetKey(t) : undefined;
  }

  peersOn(key: string | undefined): readonly Remediation[] {
    if (key === undefined) return [];
    const v = viewsOf(this.peers());
    let on = v.onTarget.get(key);
    if (!on) v.onTarget.set(key, (on = this.peers().filter((r) => targetKeyOf(r) === key)));
    return on;
  }

  activePeers(): readonly Remediation[] {
    const v = viewsOf(this.peers());
    v.active ??= this.peers().filter(isActive);
    return v.active;
  }

  peersWithStepOn(targets: Iterable<string>): readonly Remediation[] {
    const wanted = new Set(targets);
    if (wanted.size === 0) return [];
    return this.peers().filter((r) =>
      (r.status?.steps ?? []).some((st) => st.target !== undefined && wanted.has(st.target)),
    );
  }

  peers(): readonly Remediation[] {
    // A programming error, not a state of the world: needsPeers (protocol.ts) must say yes
    // for every pass whose decision looks at other Remediations.
    if (!this.obs.peers) throw new Error('decision needs the peers, but they were not gathered (needsPeers)');
    return this.obs.peers;
  }

  /**
   * Nothing to write: the status as this pass found it, whatever the pass decided on the way,
   * with no notes (a `waitUnrecorded` verdict). Not even observedGeneration moves: the status
   * still describes the generation it was written for.
   */
  unchanged(): Decision {
    return {
      op: { kind: 'none' },
      status: structuredClone(this.observed ?? {}),
      notes: [],
      ...(this.requeueAfterMs !== undefined ? { requeueAfterMs: this.requeueAfterMs } : {}),
    };
  }

  done(op: Operation = { kind: 'none' }): Decision {
    this.s.phase = derivePhase(this.s);
    const progress = progressOf(this.s.steps);
    if (progress) this.s.progress = progress;
    if (this.gen !== undefined) this.s.observedGeneration = this.gen;
    return {
      op,
      status: this.s,
      notes: this.notes,
      ...(this.requeueAfterMs !== undefined ? { requeueAfterMs: this.requeueAfterMs } : {}),
    };
  }
}
