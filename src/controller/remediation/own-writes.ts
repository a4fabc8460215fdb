/**
 * Read-your-writes over the informer cache, in the manner of kube-controller-manager's
 * "expectations". The reconciler reads Remediations from the cache, but right after one of our
 * own status writes the cache lags by one watch event; deciding on that stale copy could plan a
 * step again. Until the watch delivers the resourceVersion our write returned, the object the
 * write returned is the newest state there is: every status write carries the resourceVersion it
 * read as a precondition, so nobody wrote in between, and any later write by someone else reaches
 * the cache (and the queue) only after ours.
 *
 * The watch event may also come before the write's own response is read: what the watch showed
 * while a write was in flight is remembered, so that a write the cache already holds is not
 * waited for. A re-list (after the watch broke) may jump past a write, or predate it: every key
 * still waiting is then read once from the API server. An entry that is never satisfied
 * otherwise expires after OWN_WRITE_TTL_MS with the same effect; the object that GET returns
 * stands in until the cache shows it.
 */
import type { Remediation } from '../../api/v1alpha1/schema.js';

/** How long a write may wait for its watch event before the reconciler stops trusting it. */
export const OWN_WRITE_TTL_MS = 10_000;

/** `expired`: the cache cannot be trusted for this key yet either; read it from the API server. */
export type OwnRead = { kind: 'own'; obj: Remediation } | { kind: 'expired' } | { kind: 'none' };

const keyOf = (o: Remediation): string => `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;

export class OwnWrites {
  private readonly pending = new Map<string, { obj: Remediation; at: number }>();
  /** Keys with a write in flight → the resourceVersions the watch showed meanwhile. */
  private readonly inflight = new Map<string, string[]>();
  /** Keys whose last watch event was exactly our write, as `observed` matched it → that resourceVersion. */
  private readonly echoes = new Map<string, string>();

  constructor(
    private readonly ttlMs = OWN_WRITE_TTL_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Before a write is sent (a key's passes are serial, so one write per key at a time). */
  writing(namespace: string, name: string): void {
    this.inflight.set(`${namespace}/${name}`, []);
  }

  /** After a successful write: `obj` is what the API server returned. */
  wrote(obj: Remediation): void {
    const key = keyOf(obj);
    const seen = this.inflight.get(key);
    this.inflight.delete(key);
    const rv = obj.metadata.resourceVersion;
    // No in-flight entry: the object was deleted (forget) while the write was on its way.
    if (!rv || !seen || seen.includes(rv)) return;
    this.pending.set(key, { obj, at: this.now() });
  }

  /**
   * After a GET made because the cache could not be trusted (an expired wait, a conflict):
   * the fetched object stands in until the cache shows it, unless it already does.
   */
  fetched(obj: Remediation, cached: Remediation | undefined): void {
    const rv = obj.metadata.resourceVersion;
    if (!rv || cached?.metadata.resourceVersion === rv) return;
    this.pending.set(keyOf(obj), { obj, at: this.now() });
  }

  /** After a failed write. */
  abandoned(namespace: string, name: string): void {
    this.inflight.delete(`${namespace}/${name}`);
  }

  /** An informer event: the cache now holds `obj`. Called before the key is queued. */
  observed(obj: Remediation): void {
    const key = keyOf(obj);
    const rv = obj.metadata.resourceVersion ?? '';
    this.inflight.get(key)?.push(rv);
    const p = this.pending.get(key);
    if (p && p.obj.metadata.resourceVersion === rv) {
      this.pending.delete(key);
      this.echoes.set(key, rv);
    } else {
      this.echoes.delete(key);
    }
  }

  /**
   * Whether `obj` is the echo of our own last write, which `observed` just matched: the pass
   * that wrote it went on from the object the write returned (and asked for a requeue when it
   * wanted another look), so a pass for the echo would decide on what it already decided on.
   * In the storm benchmark these were half the controller's passes. Once per event.
   */
  isEcho(obj: Remediation): boolean {
    const key = keyOf(obj);
    const rv = this.echoes.get(key);
    if (rv === undefined) return false;
    this.echoes.delete(key);
    return rv === obj.metadata.resourceVersion;
  }

  /**
   * The informer listed anew. The list is a snapshot that may predate a write whose response
   * came meanwhile, so the cache is not trusted for those keys either: each one is read once
   * from the API server (as if expired).
   */
  relisted(): void {
    for (const p of this.pending.values()) p.at = -Infinity;
  }

  forget(namespace: string, name: string): void {
    this.pending.delete(`${namespace}/${name}`);
    this.inflight.delete(`${namespace}/${name}`);
    this.echoes.delete(`${namespace}/${name}`);
  }

  /**
   * Our own last write of the key if the cache has not shown it yet. `cached` is the cache's
   * copy: one with another uid is a new object of the same name, and our write is history.
   */
  read(namespace: string, name: string, cached?: Remediation): OwnRead {
    const key = `${namespace}/${name}`;
    const p = this.pending.get(key);
    if (!p) return { kind: 'none' };
    if (cached?.metadata.uid && p.obj.metadata.uid && cached.metadata.uid !== p.obj.metadata.uid) {
      this.pending.delete(key);
      return { kind: 'none' };
    }
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
