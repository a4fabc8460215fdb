/**
 * Which Remediations a resolved notification touches (ADR 0021). Pure: the Remediations of one
 * Runbook and one alert fingerprint in, a verdict for each out, so the rule is a table test.
 *
 * A resolved notification is matched by fingerprint, never by the deterministic name: the name
 * hashes `startsAt`, and Alertmanager does not promise the same `startsAt` on the firing and the
 * resolved notification of one alert (a client that posts without `startsAt` gets `now`, or
 * `endsAt` when it posts the resolve). The name stays the dedup key for firing notifications.
 */
import { CONDITION_TYPES, LABELS, type Remediation, type Runbook } from '../api/v1alpha1/index.js';
import { labelValue } from './naming.js';

export type ResolveVerdict =
  /** Not final, or final and not yet reverted (a change to undo, onResolve steps, or only the record). Marked. */
  | 'mark'
  /** Marked by an earlier resolved notification (a retry, or the other replica): listed, not written. */
  | 'already'
  /** Another occurrence that started after this one ended: its alert is firing again. */
  | 'later'
  /** Nothing left to do: reverted (or its revert failed), a dry run, or being deleted. */
  | 'over'
  /** Not this Runbook's or not this fingerprint (a hashed label value may be shared). */
  | 'other';

/** The label selector under which intake files the Remediations of a Runbook and fingerprint. */
export function fingerprintSelector(runbook: string, fingerprint: string): Record<string, string> {
  return { [LABELS.runbook]: labelValue(runbook), [LABELS.fingerprint]: labelValue(fingerprint) };
}

export function selectorText(sel: Record<string, string>): string {
  return Object.entries(sel)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

export function hasLabels(rem: Remediation, sel: Record<string, string>): boolean {
  const labels = rem.metadata.labels ?? {};
  return Object.entries(sel).every(([k, v]) => labels[k] === v);
}

/** Milliseconds since the epoch; `undefined` for a missing or unreadable time. */
function epoch(text: string | undefined): number | undefined {
  if (!text) return undefined;
  // Alertmanager sends up to nanoseconds; Date.parse wants at most milliseconds.
  const t = Date.parse(text.replace(/(\.\d{3})\d+/, '$1'));
  return Number.isNaN(t) ? undefined : t;
}

/**
 * The verdict for one Remediation. `endsAt` is when this occurrence ended (the notification's
 * `endsAt`, or now when it has none): a Remediation whose alert started after it answers a
 * newer occurrence, which a late or retried resolved notification must not revert.
 */
export function resolveVerdict(
  rem: Remediation,
  rb: Pick<Runbook, 'metadata'>,
  fingerprint: string,
  endsAt: string,
): ResolveVerdict {
  if (rem.spec.runbookRef?.name !== rb.metadata.name) return 'other';
  if ((rem.spec.alert?.fingerprint ?? '').toLowerCase() !== fingerprint.toLowerCase()) return 'other';
  if (rem.metadata.deletionTimestamp) return 'over';
  const started = epoch(rem.spec.alert?.startsAt);
  const ended = epoch(endsAt);
  if (started !== undefined && ended !== undefined && started > ended) return 'later';
  if (rem.spec.alert?.status === 'resolved') return 'already';
  const conds = rem.status?.conditions ?? [];
  const finished = conds.some((c) => c.type === CONDITION_TYPES.succeeded);
  if (!finished) return 'mark';
  if (rem.status?.dryRun) return 'over';
  if (conds.some((c) => c.type === CONDITION_TYPES.reverted)) return 'over';
  // Final with nothing to undo is still marked: the record says the alert resolved (escalation
  // stops, onResolve's steps run after a run that succeeded), as before matching by fingerprint.
  return 'mark';
}

export interface ResolveMatches {
  /** To mark for revert, newest occurrence first. */
  mark: Remediation[];
  /** Already marked, newest first: part of the answer, no write. */
  already: Remediation[];
}

function newestFirst(a: Remediation, b: Remediation): number {
  const ta = epoch(a.spec.alert?.startsAt) ?? epoch(a.metadata.creationTimestamp) ?? 0;
  const tb = epoch(b.spec.alert?.startsAt) ?? epoch(b.metadata.creationTimestamp) ?? 0;
  return tb - ta || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '');
}

/**
 * Every live Remediation of the Runbook and fingerprint, not only the newest (ADR 0021): each
 * one's change is still in place, and the one resolved notification for the label set is the
 * last chance to undo it. Reverts of changes layered on one another still unwind newest first
 * (ADR 0010), whatever order they are marked in.
 */
export function resolveMatches(
  rems: Iterable<Remediation>,
  rb: Pick<Runbook, 'metadata'>,
  fingerprint: string,
  endsAt: string,
): ResolveMatches {
  const out: ResolveMatches = { mark: [], already: [] };
  for (const rem of rems) {
    const v = resolveVerdict(rem, rb, fingerprint, endsAt);
    if (v === 'mark' || v === 'already') out[v].push(rem);
  }
  out.mark.sort(newestFirst);
  out.already.sort(newestFirst);
  return out;
}
