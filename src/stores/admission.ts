/** `claimAndIncrement()` as its two calls, and a batch as one call after another: the memory store's. */
import type { AdmissionRequest, AdmissionResult, ClaimResult, LimitStore } from './types.js';

/**
 * `claimAndIncrementMany()` as one `claimAndIncrement()` per request, one after the other, so
 * each answer is what it would be had the ones before it been asked first (the memory store's
 * calls answer at once, so this costs nothing). All or nothing: when one fails, what the ones
 * before it took is given back (a give-back that fails too expires with its ttl or window, as
 * in the intake's own undo) and its error is thrown.
 */
export async function inTurn(
  store: Pick<LimitStore, 'claimAndIncrement' | 'release' | 'decrement'>,
  requests: readonly AdmissionRequest[],
): Promise<AdmissionResult[]> {
  const answers: AdmissionResult[] = [];
  try {
    for (const r of requests) answers.push(await store.claimAndIncrement(r));
    return answers;
  } catch (err) {
    for (const [i, taken] of answers.entries()) {
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
