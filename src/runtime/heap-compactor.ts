/**
 * A memory-reducing garbage collection once a burst of work has settled: the first sync of a
 * large cache, a re-list, a restart that reconciles every key. See ADR 9.
 *
 * V8 collects when allocation makes it, not on a timer. After a burst the operator goes quiet
 * (a Lease renewal every 2 s allocates little), so the burst's garbage can stay in the heap
 * for hours: with 10,000 Remediations cached, about 12 MB of heap and RSS that swings between
 * 139 and 183 MB depending on when the last major GC happened to run. V8's own memory reducer
 * only starts after a major GC that allocation triggered. This asks for one full collection
 * (V8 returns the freed pages to the OS a moment later) when the queues have been empty for
 * `settleMs` after at least `minWork` objects of churn.
 *
 * It needs the `gc` function that `--expose-gc` installs (src/cli/node-flags.ts); without it
 * this does nothing. Go operators get the same from the Go runtime's background scavenger.
 */
import type { Logger } from '../observability/logger.js';
import { realTimers, type Timers } from './work-queue.js';

/**
 * V8's `gc()` extension, as `--expose-gc` installs it. Called without arguments: a full,
 * synchronous collection. (Node 20's V8 takes an options object too, but measured with
 * `{ type: 'major' }` and `{ flavor: 'last-resort' }` it collected nothing.)
 */
export type GcFunction = () => unknown;

/** Objects listed or reconciled since the last collection before one is worth asking for. */
export const COMPACT_MIN_WORK = 1000;
/** How long the queues stay empty before the collection (responses in flight settle). */
export const COMPACT_SETTLE_MS = 2000;

export interface HeapCompactorOptions {
  logger: Logger;
  /** Default: globalThis.gc, present only with --expose-gc. */
  gc?: GcFunction | undefined;
  /** Whether any work is queued or in flight; checked again when the settle timer fires. */
  busy: () => boolean;
  minWork?: number;
  settleMs?: number;
  timers?: Timers;
  now?: () => number;
}

export class HeapCompactor {
  private readonly gc: GcFunction | undefined;
  private readonly minWork: number;
  private readonly settleMs: number;
  private readonly timers: Timers;
  private work = 0;
  /** When the last work was noted: the collection waits for `settleMs` without any. */
  private lastWorkAt = -Infinity;
  private readonly now: () => number;
  private timer: unknown;
  private stopped = false;
  /** Collections done, for tests and the log. */
  compactions = 0;

  constructor(private readonly o: HeapCompactorOptions) {
    this.gc = 'gc' in o ? o.gc : (globalThis as { gc?: GcFunction }).gc;
    this.minWork = o.minWork ?? COMPACT_MIN_WORK;
    this.settleMs = o.settleMs ?? COMPACT_SETTLE_MS;
    this.timers = o.timers ?? realTimers;
    this.now = o.now ?? (() => performance.now());
  }

  /** Whether collections can happen at all (the process runs with --expose-gc). */
  get enabled(): boolean {
    return this.gc !== undefined;
  }

  /** `n` objects were listed or reconciled: garbage the next collection may find. */
  note(n = 1): void {
    this.work += n;
    this.lastWorkAt = this.now();
  }

  /** The queues may have gone empty: start the settle timer if enough work was done. */
  maybeCompact(): void {
    if (!this.gc || this.stopped || this.timer !== undefined || this.work < this.minWork) return;
    if (this.o.busy()) return;
    this.arm(this.settleMs);
  }

  /**
   * Collects once nothing was queued, in flight or noted for `settleMs`. A steady trickle of
   * work (one Remediation every few hundred ms) keeps putting it off: a collection then would
   * pause a reconcile in the middle, and the young generation's GCs keep up with such garbage.
   */
  private arm(ms: number): void {
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      if (this.stopped) return;
      // Work in flight: its end calls maybeCompact() again.
      if (this.o.busy()) return;
      const quiet = this.now() - this.lastWorkAt;
      if (quiet < this.settleMs) this.arm(this.settleMs - quiet);
      else this.compact();
    }, ms);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private compact(): void {
    const work = this.work;
    this.work = 0;
    const before = process.memoryUsage();
    const started = performance.now();
    try {
      this.gc!();
    } catch (err) {
      this.o.logger.warn('heap compaction failed', { error: String(err) });
      return;
    }
    this.compactions++;
    const after = process.memoryUsage();
    const mb = (b: number): number => Math.round((b / 1048576) * 10) / 10;
    this.o.logger.info('heap compacted after a burst of work', {
      objects: work,
      durationMs: Math.round(performance.now() - started),
      heapUsedMb: mb(after.heapUsed),
      heapUsedBeforeMb: mb(before.heapUsed),
      rssMb: mb(after.rss),
      rssBeforeMb: mb(before.rss),
    });
  }
}
