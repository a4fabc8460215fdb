/**
 * Read-your-writes over the informer cache, in the manner of kube-controller-manager's
 * "expectations". The reconciler reads Remediations from the cache, but right after one of our
 * own status writes the cache lags by one watch event; deciding on that stale copy could plan a
 * step again. Until the watch delivers the resourceVersion our write returned, the object the
 * write returned is the newest state there is: every status write carries the resourceVersion it
 * read as a precondition, so nobody wrote in between, and any later write by someone else reaches
 * the cache (and the queue) only after ours.
 *
 * If the event never comes (a re-list jumped past it), the entry expires after OWN_WRITE_TTL_MS
 * and the reconciler asks the API server instead.
 */
import type { Remediation } from '../../api/v1alpha1/schema.js';

/** How long a write may wait for its watch event before the reconciler stops trusting it. */
export const OWN_WRITE_TTL_MS = 10_000;

export type OwnRead = { kind: 'own'; obj: Remediation } | { kind: 'expired' } | { kind: 'none' };

const keyOf = (o: Remediation): string => `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;

export class OwnWrites {
  private readonly pending = new Map<string, { obj: Remediation; at: number }>();

  constructor(
    private readonly ttlMs = OWN_WRITE_TTL_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** After a successful write: `obj` is what the API server returned. */
  wrote(obj: Remediation): void {
    if (!obj.metadata.resourceVersion) return;
    this.pending.set(keyOf(obj), { obj, at: this.now() });
  }

  /** An informer event: the cache now holds `obj`. Called before the key is queued. */
  observed(obj: Remediation): void {
    const key = keyOf(obj);
    const p = this.pending.get(key);
    if (p && p.obj.metadata.resourceVersion === obj.metadata.resourceVersion) this.pending.delete(key);
  }

  forget(namespace: string, name: string): void {
    this.pending.delete(`${namespace}/${name}`);
  }

  /** Our own last write of the key if the cache has not shown it yet. */
  read(namespace: string, name: string): OwnRead {
    const key = `${namespace}/${name}`;
    const p = this.pending.get(key);
    if (!p) return { kind: 'none' };
    if (this.now() - p.at > this.ttlMs) {
      this.pending.delete(key);
      return { kind: 'expired' };
    }
    return { kind: 'own', obj: p.obj };
  }

  /** For tests and metrics. */
  get size(): number {
    return this.pending.size;
  }
}
