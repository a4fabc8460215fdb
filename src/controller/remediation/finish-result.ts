/**
 * The ends a Remediation reaches, as counted by `kube_remediator_remediations_finished_total`
 * (the chart's alerting rules fire on its `failed`, `revert_failed` and `blocked`). Read from
 * the audit notes of a decision: they are emitted once, after the status write that made the
 * transition, so a standby or a repeated pass counts nothing.
 */
import type { FinishResult } from '../../observability/metrics.js';
import type { Note } from './decision.js';

/** The end an audit note records, or undefined for a note along the way. */
export function finishResult(note: Extract<Note, { kind: 'audit' }>): FinishResult | undefined {
  switch (note.event) {
    case 'finished':
      switch (note.phase) {
        case 'Succeeded':
          return 'succeeded';
        case 'Failed':
          return 'failed';
        case 'Skipped':
          return 'skipped';
        case 'DryRun':
          return 'dry_run';
        default:
          return undefined;
      }
    case 'rejected':
      return 'skipped';
    case 'blocked':
      // Loop protection ends it (phase Blocked); a wait (lock, budget, held revert) does not.
      return note.phase === 'Blocked' ? 'blocked' : undefined;
    case 'reverted':
      // The whole revert (no step) succeeded, or one step's revert failed for good.
      if (note.phase === 'Reverted' && note.step === undefined) return 'reverted';
      return note.phase === 'Failed' ? 'revert_failed' : undefined;
    default:
      return undefined;
  }
}
