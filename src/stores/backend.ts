/** What FallbackStore needs from a shared (Redis or Postgres) store beyond the LimitStore contract. */
import type { LimitSnapshot } from './memory.js';
import type { LimitStore } from './types.js';

export interface BackendStore extends LimitStore {
  readonly kind: 'redis' | 'postgres';
  /** False when the client already knows the server is unreachable, so no call is tried. */
  isReady(): boolean;
  /** Resolves once the server answers (and its schema is in place); rejects otherwise. */
  ping(): Promise<void>;
  /**
   * Adds claims and counts taken in memory during an outage, so a cooldown granted while the
   * server was down still holds after it is back. Never replaces a claim someone else holds.
   */
  absorb(snapshot: LimitSnapshot): Promise<void>;
}

/** Rejects with a timeout error when `p` takes longer than `ms`; the timer never outlives the race. */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms}ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
