/**
 * Layered changes: two Remediations that change the same fields of the same target.
 *
 * R1 sets `DEGRADED=true` on a Deployment. While it is in place, R2 (another alert of the same
 * outage) sets `DEGRADED=true` too: its `before` is R1's change. If R1's alert resolves first,
 * a compare-and-swap revert cannot tell that R2 still needs the value (it is R1's `after`), and
 * would turn degraded mode off in the middle of R2's outage. So reverts unwind like a stack:
 *
 * - at plan, a reversible step records in `status.steps[i].layeredOn` the other Remediations
 *   whose change to the same fields of the same target is in place (not reverted), that is
 *   whose value its `before` captured;
 * - a revert waits (Blocked, reason RevertHeld) while a step of another Remediation that is
 *   layered on one of its steps is still in place. The newer change is undone first (to the
 *   older one's value), then the older one (to the value before both).
 *
 * The relation points from newer to older only (it is recorded when the newer step plans, and
 * only changes already made count), so two Remediations never wait for each other. A person
 * frees a held revert by reverting the newer Remediation (`kube-remediator.io/revert=true`) or
 * by deleting it. A newer Remediation whose revert failed (final: `Reverted=False`) holds
 * nothing: its revert was asked for and will not run again, and the older revert is still a
 * compare-and-swap, so it restores only a value that is still the one it set.
 * Pure functions of the peers list (from the cache), table-tested.
 */
import { CONDITION_TYPES, REASONS } from '../../api/v1alpha1/constants.js';
import type { LayeredOn, Remediation, StepStatus } from '../../api/v1alpha1/schema.js';
import type { WatchEvent } from '../../runtime/types.js';
import { findCondition } from '../../api/v1alpha1/conditions.js';
import { sameObject } from './policy.js';
import { revertRequested } from './revert-set.js';
import { isDryRun } from './status.js';

/** `namespace/name`, as layeredOn names a Remediation. */
export function remediationRef(rem: Remediation): string {
  return `${rem.metadata.namespace ?? ''}/${rem.metadata.name ?? ''}`;
}

/**
 * The fields a step changes, as paths, or 'all' when the action does not say (then any step of
 * the same action on the same target overlaps): setEnv `container/VAR`, scale `/spec/replicas`,
 * patch the JSON pointers it recorded (so a scale and a patch of the replicas overlap).
 */
export function changedFields(rec: Pick<StepStatus, 'action' | 'before' | 'after'>): string[] | 'all' {
  const part = (k: 'before' | 'after'): Record<string, unknown> | undefined => {
    const v = rec[k];
    return v && typeof v === 'object' ? v : undefined;
  };
  switch (rec.action) {
    case 'scale':
      // As a JSON pointer into the workload, like a patch's paths: a patch of the replicas and
      // a scale are changes to the same field.
      return ['/spec/replicas'];
    case 'setEnv': {
      const out = new Set<string>();
      for (const k of ['before', 'after'] as const) {
        const containers = part(k)?.containers;
        if (!containers || typeof containers !== 'object') continue;
        for (const [c, vars] of Object.entries(containers as Record<string, unknown>)) {
          if (vars && typeof vars === 'object') for (const v of Object.keys(vars)) out.add(`${c}/${v}`);
        }
      }
      return out.size > 0 ? [...out] : 'all';
    }
    case 'patch': {
      const out = new Set<string>();
      for (const k of ['before', 'after'] as const) {
        const paths = part(k)?.paths;
        if (paths && typeof paths === 'object') for (const p of Object.keys(paths)) out.add(p);
      }
      return out.size > 0 ? [...out] : 'all';
    }
    default:
      return 'all';
  }
}

/** Two field lists overlap when a path is equal to, or inside, one of the other. */
export function overlaps(a: string[] | 'all', b: string[] | 'all'): boolean {
  if (a === 'all' || b === 'all') return true;
  const inside = (x: string, y: string): boolean => x === y || x.startsWith(`${y}/`);
  return a.some((x) => b.some((y) => inside(x, y) || inside(y, x)));
}

/** The actions whose changes layer: they set fields a later step of another Remediation can set again. */
export const LAYERED_ACTIONS: ReadonlySet<string> = new Set(['scale', 'setEnv', 'patch']);

/** Most entries kept in `layeredOn` (the CRD's maxItems): the newest Remediations first. */
export const MAX_LAYERED_ON = 64;

/**
 * The step's change is (or may be) on the target: checkpointed or done, and not undone. A step
 * waiting for a retry counts once an attempt started: that attempt may have landed.
 */
export function inPlace(rec: StepStatus): boolean {
  if (rec.phase === 'Running' || rec.phase === 'Succeeded' || rec.phase === 'Reverting') return true;
  if (rec.phase === 'Pending') return (rec.attempt ?? 0) >= 1 && rec.before !== undefined;
  return rec.phase === 'Failed' && rec.before !== undefined;
}

/** A step that takes part: an action that layers, undone when the alert resolves. */
export function layers(rec: Pick<StepStatus, 'action' | 'spec'>): boolean {
  return (
    LAYERED_ACTIONS.has(rec.action) && (rec.spec as { revertOnResolve?: unknown })?.revertOnResolve === true
  );
}

/** scale and patch both name fields by JSON pointer into the workload; setEnv by container. */
const POINTER_ACTIONS: ReadonlySet<string> = new Set(['scale', 'patch']);

function sameChange(a: StepStatus, b: Pick<StepStatus, 'action' | 'target' | 'before' | 'after'>): boolean {
  const comparable =
    a.action === b.action || (POINTER_ACTIONS.has(a.action) && POINTER_ACTIONS.has(b.action));
  return (
    a.target !== undefined &&
    a.target === b.target &&
    comparable &&
    overlaps(changedFields(a), changedFields(b))
  );
}

/** The Remediations layered on `me`, directly or through others (`namespace/name`). */
function layeredAbove(me: Remediation, peers: readonly Remediation[]): Set<string> {
  // Who names whom in its steps' layeredOn, in one scan; then a walk up from `me`.
  const self = remediationRef(me);
  const namedBy = new Map<string, string[]>();
  for (const peer of peers) {
    const ref = remediationRef(peer);
    if (ref === self) continue;
    for (const st of peer.status?.steps ?? []) {
      for (const l of st.layeredOn ?? []) {
        const by = namedBy.get(l.remediation);
        if (!by) namedBy.set(l.remediation, [ref]);
        else if (!by.includes(ref)) by.push(ref);
      }
    }
  }
  const above = new Set<string>();
  const todo = [self];
  for (let r = todo.pop(); r !== undefined; r = todo.pop()) {
    for (const by of namedBy.get(r) ?? []) {
      if (above.has(by)) continue;
      above.add(by);
      todo.push(by);
    }
  }
  return above;
}

/**
 * At plan: the changes of other Remediations, still in place, to the same fields of the same
 * target as the planned step `rec` (its `before` and `after` already set). Dry runs changed
 * nothing and count for nothing.
 */
export function layeredOn(
  me: Remediation,
  rec: Pick<StepStatus, 'action' | 'target' | 'before' | 'after' | 'spec'>,
  peers: readonly Remediation[],
): LayeredOn[] {
  if (!layers(rec)) return [];
  // Never onto one that is layered on us already (two steps of ours, or a retry, on the same
  // fields): the relation must stay one-way, or two reverts would wait for each other.
  const above = layeredAbove(me, peers);
  const found: { entry: LayeredOn; created: number }[] = [];
  for (const peer of peers) {
    if (sameObject(peer, me) || isDryRun(peer, peer.status) || above.has(remediationRef(peer))) continue;
    for (const step of peer.status?.steps ?? []) {
      if (!layers(step) || !inPlace(step) || !sameChange(step, rec)) continue;
      found.push({
        entry: { remediation: remediationRef(peer), uid: peer.metadata.uid ?? '', step: step.name },
        created: Date.parse(peer.metadata.creationTimestamp ?? '') || 0,
      });
    }
  }
  return found
    .sort((a, b) => b.created - a.created)
    .slice(0, MAX_LAYERED_ON)
    .map((f) => f.entry)
    .sort((a, b) => a.remediation.localeCompare(b.remediation) || a.step.localeCompare(b.step));
}

/** Its revert ran and failed; that is final (a person takes over), so it holds no older revert. */
export function revertEnded(rem: Remediation): boolean {
  return findCondition(rem.status?.conditions, CONDITION_TYPES.reverted)?.status === 'False';
}

export interface RevertHold {
  /** The newer Remediation, `namespace/name`. */
  remediation: string;
  /** Its step layered on ours. */
  step: string;
  /** Our step that waits. */
  mine: string;
}

/**
 * At revert: the first step of another Remediation, layered on one of `me`'s steps `indexes`
 * and still in place (and its revert not failed), or undefined when they may all be reverted now.
 */
export function revertHold(
  me: Remediation,
  indexes: readonly number[],
  peers: readonly Remediation[],
): RevertHold | undefined {
  return layeredOnMine(
    me,
    indexes,
    peers.filter((p) => !revertEnded(p)),
  );
}

/**
 * The first Remediation, layered on one of `me`'s steps `indexes` with its change still in
 * place, whose revert failed: the reason a held revert goes on, for its message.
 */
export function failedAbove(
  me: Remediation,
  indexes: readonly number[],
  peers: readonly Remediation[],
): RevertHold | undefined {
  return layeredOnMine(me, indexes, peers.filter(revertEnded));
}

function layeredOnMine(
  me: Remediation,
  indexes: readonly number[],
  peers: readonly Remediation[],
): RevertHold | undefined {
  const ref = remediationRef(me);
  const uid = me.metadata.uid ?? '';
  const mine = indexes.map((i) => me.status?.steps?.[i]).filter((s): s is StepStatus => s !== undefined);
  for (const peer of peers) {
    if (sameObject(peer, me) || isDryRun(peer, peer.status)) continue;
    for (const step of peer.status?.steps ?? []) {
      if (!layers(step) || !inPlace(step)) continue;
      const on = (step.layeredOn ?? []).filter((l) => l.remediation === ref && (!l.uid || l.uid === uid));
      for (const l of on) {
        const held = mine.find((m) => m.name === l.step && sameChange(m, step));
        if (held) return { remediation: remediationRef(peer), step: step.name, mine: held.name };
      }
    }
  }
  return undefined;
}

/**
 * Its revert is asked for and under way, as far as its status shows: not a dry run, its run
 * over, no approval awaited, no Blocked=True (a lock, a hold a person is shown), no revert
 * gate, no `onResolve.before` step running, and no revert that ended. What it shows is what counts: a Remediation whose revert
 * waits says so in its own status within one requeue.
 */
function revertUnderWay(rem: Remediation): boolean {
  if (!revertRequested(rem) || isDryRun(rem, rem.status)) return false;
  const conditions = rem.status?.conditions;
  // Its run is over (a run waiting for a step's approval goes on whether the alert resolved or not).
  if (!findCondition(conditions, CONDITION_TYPES.succeeded)) return false;
  // Nobody's approval awaited (an onResolve.before step's, say): that wait has no end of its own.
  if (findCondition(conditions, CONDITION_TYPES.approved)?.status === 'False') return false;
  if (findCondition(conditions, CONDITION_TYPES.blocked)?.status === 'True') return false;
  const reverted = findCondition(conditions, CONDITION_TYPES.reverted);
  if (reverted && (reverted.status !== 'Unknown' || reverted.reason !== REASONS.revertRequested))
    return false;
  return findCondition(conditions, CONDITION_TYPES.progressing)?.reason !== REASONS.resolveStepRunning;
}

/**
 * The hold clears by itself, in moments: the Remediation in the way has its revert under way,
 * or is held in turn by one that has, down the chain. Ten alerts on one Deployment resolving
 * together: the newest reverts, and each release wakes the next one down (layeredOnRequests).
 * Such a hold is no news for a person, and its RevertHeld condition would cost a status write
 * per held revert (ADR 0026's addendum). A chain that ends in a change whose alert still fires,
 * or in a revert that waits, is news: false. `indexesOf`: the steps a peer's revert undoes.
 */
export function holdUnwinds(
  hold: RevertHold,
  peers: readonly Remediation[],
  indexesOf: (rem: Remediation) => readonly number[],
): boolean {
  const seen = new Set<string>();
  let next: RevertHold | undefined = hold;
  while (next) {
    const ref = next.remediation;
    if (seen.has(ref)) return false;
    seen.add(ref);
    const holder = peers.find((p) => remediationRef(p) === ref);
    if (!holder || !revertUnderWay(holder)) return false;
    next = revertHold(holder, indexesOf(holder), peers);
  }
  return true;
}

/** `rem` still holds the reverts of the Remediations its layered steps recorded. */
function holdsLayered(rem: Remediation): boolean {
  if (revertEnded(rem)) return false;
  return (rem.status?.steps ?? []).some((s) => (s.layeredOn ?? []).length > 0 && inPlace(s));
}

function refsOf(rem: Remediation): Set<string> {
  const refs = new Set<string>();
  for (const step of rem.status?.steps ?? [])
    if (inPlace(step)) for (const l of step.layeredOn ?? []) refs.add(l.remediation);
  return refs;
}

/**
 * Layered → the Remediations it is layered on, so they look again once it no longer holds
 * them: its layered steps are reverted (or no longer in place), its revert failed, or it was
 * deleted. Not on its other status writes, and not those that another of them still holds
 * (`get` reads the cache): ten changes on one Deployment unwind one at a time, and each
 * release wakes the next, not all nine below it. In the storm benchmark every write of the
 * tenth woke the nine older ones for a pass that found them still held, and those passes, not
 * the API server, were what the reverts waited for (docs/benchmarks.md). One missed here
 * still looks again on its requeue.
 */
export function layeredOnRequests(
  rem: Remediation,
  event: WatchEvent = 'update',
  get: (namespace: string, name: string) => Remediation | undefined = () => undefined,
): { namespace: string; name: string }[] {
  if (event !== 'delete' && holdsLayered(rem)) return [];
  const seen = new Set<string>();
  for (const step of rem.status?.steps ?? []) for (const l of step.layeredOn ?? []) seen.add(l.remediation);
  const split = (r: string): { namespace: string; name: string } => {
    const slash = r.indexOf('/');
    return { namespace: r.slice(0, slash), name: r.slice(slash + 1) };
  };
  const self = remediationRef(rem);
  const stillHeld = new Set<string>();
  for (const r of seen) {
    const { namespace, name } = split(r);
    const other = get(namespace, name);
    if (!other || r === self || !holdsLayered(other)) continue;
    for (const below of refsOf(other)) if (below !== self) stillHeld.add(below);
  }
  return [...seen].filter((r) => !stillHeld.has(r)).map(split);
}
