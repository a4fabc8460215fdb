/**
 * Remediations this process has started (or checkpointed) and the informer cache may not show
 * yet. The budgets and the target lock are judged from the cache, which lags our own status
 * writes: with several workers, two Remediations on one target could both see the other as
 * not started and both start. Only the leader runs workers, so what this process started is
 * authoritative enough: each entry stands in for its Remediation as active until the cache
 * shows it with a status of its own (`startedAt`), or it finishes, or it is gone.
 *
 * `reserve` is called synchronously right after `decide` (in the same tick as `merge` built its
 * peers), so two passes of this process can never both start on a stale view of each other.
 */
import type { Remediation, RemediationStatus } from '../../api/v1alpha1/schema.js';
import { isActive } from './policy.js';

/** An entry whose Remediation the cache never showed is dropped after this long. */
export const LOCAL_START_TTL_MS = 10 * 60_000;

export interface LocalStart {
  /** `status.target` as written (`Kind/name` or `Kind/namespace/name`). */
  target: string | undefined;
  runbook: string | undefined;
  since: Date;
  /** The Remediation as seen when it started, with an active status: what peers see. */
  view: Remediation;
}

const keyOf = (rem: Remediation): string => `${rem.metadata.namespace ?? ''}/${rem.metadata.name ?? ''}`;

export class LocalStarts {
  private readonly m = new Map<string, LocalStart>();

  /**
   * After a decision for `rem`: an active status (started, not over) is remembered; anything
   * else (not started, or finished) forgets it. Returns true when a new entry was made.
   */
  note(rem: Remediation, status: RemediationStatus, now: Date): boolean {
    const key = keyOf(rem);
    if (!status.startedAt || !isActive({ ...rem, status })) {
      this.m.delete(key);
      return false;
    }
    const had = this.m.get(key);
    const runbook = rem.spec.runbookRef?.name;
    this.m.set(key, {
      target: status.target,
      runbook,
      since: had?.since ?? now,
      view: {
        apiVersion: rem.apiVersion,
        kind: rem.kind,
        metadata: {
          name: rem.metadata.name,
          namespace: rem.metadata.namespace,
          ...(rem.metadata.uid ? { uid: rem.metadata.uid } : {}),
          ...(rem.metadata.creationTimestamp ? { creationTimestamp: rem.metadata.creationTimestamp } : {}),
        },
        spec: rem.spec,
        status: {
          phase: status.phase,
          ...(status.target ? { target: status.target } : {}),
          startedAt: status.startedAt,
        },
      },
    });
    return had === undefined;
  }

  forget(namespace: string, name: string): void {
    this.m.delete(`${namespace}/${name}`);
  }

  has(namespace: string, name: string): boolean {
    return this.m.has(`${namespace}/${name}`);
  }

  get size(): number {
    return this.m.size;
  }

  /**
   * The cache's peers with our own starts laid over them: an entry replaces its cached copy
   * until that copy has a `startedAt` (then the cache knows, and the entry is dropped).
   */
  merge(peers: readonly Remediation[], now: Date): readonly Remediation[] {
    // Most passes have no start of ours in flight: the cache's list as it is, no copy (in the
    // storm benchmark, building keys for every peer on every pass was a tenth of the CPU).
    if (this.m.size === 0) return peers;
    const names = new Set<string>();
    for (const local of this.m.values()) names.add(local.view.metadata.name ?? '');
    const out: Remediation[] = [];
    const seen = new Set<string>();
    for (const p of peers) {
      if (!names.has(p.metadata.name ?? '')) {
        out.push(p);
        continue;
      }
      const key = keyOf(p);
      const local = this.m.get(key);
      if (!local) {
        out.push(p);
        continue;
      }
      seen.add(key);
      if (p.status?.startedAt) {
        this.m.delete(key);
        out.push(p);
      } else {
        out.push(local.view);
      }
    }
    for (const [key, local] of this.m) {
      if (seen.has(key)) continue;
      if (now.getTime() - local.since.getTime() > LOCAL_START_TTL_MS) {
        this.m.delete(key);
        continue;
      }
      out.push(local.view);
    }
    return out;
  }
}
