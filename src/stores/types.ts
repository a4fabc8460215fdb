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
  claim(key: string, owner: string, ttlMs: number): Promise<{ acquired: boolean; owner: string }>;
  /** Releases a claim made by `owner` (used when the create that followed failed). */
  release(key: string, owner: string): Promise<void>;
  /** Adds one to the counter of the fixed window `windowMs` that holds now; returns the count. */
  increment(key: string, windowMs: number): Promise<number>;
  /** Takes one back (when the create that followed failed). */
  decrement(key: string, windowMs: number): Promise<void>;
  close(): Promise<void>;
}
