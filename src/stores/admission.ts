/** `claimAndIncrement()` as its two calls, for the stores where one more call costs little. */
import type { AdmissionRequest, AdmissionResult, ClaimResult, LimitStore } from './types.js';

/**
 * `claimAndIncrementMany()` as one `claimAndIncrement()` after the other. All or nothing: when
 * one fails, what the ones before it took is given back (a give-back that fails too expires
 * with its ttl or window, as in the intake's own undo); the first error is the one thrown.
 */
export async function inTurn(
  store: Pick<LimitStore, 'claimAndIncrement' | 'release' | 'decrement'>,
  requests: readonly AdmissionRequest[],
): Promise<AdmissionResult[]> {
  const out: AdmissionResult[] = [];
  try {
    for (const r of requests) out.push(await store.claimAndIncrement(r));
    return out;
  } catch (err) {
    for (const [i, taken] of out.entries()) {
      const { cooldown, rate } = requests[i]!;
      if (cooldown && taken.claim?.acquired)
        await store.release(cooldown.key, cooldown.owner).catch(() => undefined);
      if (rate && taken.windowStart !== undefined)
        await store.decrement(rate.key, rate.windowMs, taken.windowStart).catch(() => undefined);
    }
    throw err;
  }
}

export async function claimThenIncrement(
  store: Pick<LimitStore, 'claim' | 'release' | 'increment'>,
  request: AdmissionRequest,
): Promise<AdmissionResult> {
  const { cooldown, rate } = request;
  let claim: ClaimResult | undefined;
  if (cooldown) {
    claim = await store.claim(cooldown.key, cooldown.owner, cooldown.ttlMs);
    if (!claim.acquired || !rate) return { claim };
  }
  if (!rate) return {};
  try {
    const counted = await store.increment(rate.key, rate.windowMs);
    return claim ? { claim, ...counted } : counted;
  } catch (err) {
    // All or nothing: give the claim back. If that fails too, it expires after its ttl; the
    // increment's error is the one that tells what went wrong.
    if (cooldown && claim?.acquired) await store.release(cooldown.key, cooldown.owner).catch(() => undefined);
    throw err;
  }
}
