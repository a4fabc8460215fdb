/**
 * The store behind cooldowns and rate limits. Three implementations: memory (per process,
 * the embedded default), Redis and PostgreSQL (shared by replicas). The Redis and Postgres
 * ones fall back to memory at once when their server cannot be reached (see FallbackStore).
 */
export interface LimitStore {
  readonly kind: 'memory' | 'redis' | 'postgres';
  /**
   * Atomically claims `key` for `owner` for `ttlMs` unless someone holds it. Returns who holds
   * it now: `acquired` is true when this call took it. A caller that finds itself already the
   * owner (same `owner`) treats it as its own claim (a repeated notification).
   */
  claim(key: string, owner: string, ttlMs: number): Promise<ClaimResult>;
  /** Releases a claim made by `owner` (used when the create that followed failed). */
  release(key: string, owner: string): Promise<void>;
  /**
   * Adds one to the counter of the fixed window `windowMs` that holds now; returns the count
   * and the start of that window, which is what `decrement()` needs to take it back.
   */
  increment(key: string, windowMs: number): Promise<WindowCount>;
  /**
   * Takes one back (when the create that followed failed) from the window that starts at
   * `windowStart`, as `increment()` or `claimAndIncrement()` reported it, not from the one that
   * holds now: an undo that runs after the boundary must not lower the next window's count.
   * Never below zero. Once the store has dropped that window's counter (after its end:
   * memory at its next sweep, Redis after a grace for clock skew, PostgreSQL at cleanup),
   * nothing happens.
   */
  decrement(key: string, windowMs: number, windowStart: number): Promise<void>;
  /**
   * What a new alert takes from the store, in one call (one round trip with PostgreSQL):
   * `claim()` of the cooldown when one is asked, then `increment()` of the rate window when
   * one is asked, unless the cooldown was asked and not acquired (nothing is counted then).
   * The result is what those two calls would have answered. The count is never checked
   * against a limit here: the caller gives back what it took (`release()`, `decrement()`)
   * when the limit is exceeded or the create fails, as with the two calls. All or nothing:
   * when it fails, no claim it took is left behind.
   */
  claimAndIncrement(request: AdmissionRequest): Promise<AdmissionResult>;
  /**
   * `claimAndIncrement()` of each request in turn, in one call (one round trip and one
   * transaction with PostgreSQL): the answers in the order of the requests, each as if the ones
   * before it had been asked first. All or nothing: when it fails, nothing any of them took is
   * left behind.
   */
  claimAndIncrementMany(requests: readonly AdmissionRequest[]): Promise<AdmissionResult[]>;
  close(): Promise<void>;
}

export interface ClaimResult {
  acquired: boolean;
  owner: string;
}

export interface AdmissionRequest {
  cooldown?: { key: string; owner: string; ttlMs: number };
  rate?: { key: string; windowMs: number };
}

/** What `increment()` answers: the count after it, in the window it counted in. */
export interface WindowCount {
  count: number;
  /** Start of the window (ms since the epoch) counted in: give it to `decrement()`. */
  windowStart: number;
}

export interface AdmissionResult {
  /** The claim's answer; absent when no cooldown was asked. */
  claim?: ClaimResult;
  /** The window's count after this call's increment; absent when nothing was counted. */
  count?: number;
  /** Start of the window counted in, for `decrement()`; present exactly when `count` is. */
  windowStart?: number;
}
