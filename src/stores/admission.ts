/** `claimAndIncrement()` as its two calls, for the stores where one more call costs little. */
import type { AdmissionRequest, AdmissionResult, ClaimResult, LimitStore } from './types.js';

/**
 * `claimAndIncrementMany()` as one `claimAndIncrement()` per request, all sent at once (as the
 * intake did before it batched: a Redis connection pipelines them, and runs them in order). All
 * or nothing: when one fails, what the others took is given back (a give-back that fails too
 * expires with its ttl or window, as in the intake's own undo); the first error is thrown.
 */
export async function atOnce(
  store: Pick<LimitStore, 'claimAndIncrement' | 'release' | 'decrement'>,
  requests: readonly AdmissionRequest[],
): Promise<AdmissionResult[]> {
  const settled = await Promise.allSettled(requests.map((r) => store.claimAndIncrement(r)));
  const failure = settled.find((x): x is PromiseRejectedResult => x.status === 'rejected');
  if (!failure) return settled.map((x) => (x as PromiseFulfilledResult<AdmissionResult>).value);
  await Promise.all(
    settled.map(async (x, i) => {
      if (x.status !== 'fulfilled') return;
      const { cooldown, rate } = requests[i]!;
      if (cooldown && x.value.claim?.acquired)
        await store.release(cooldown.key, cooldown.owner).catch(() => undefined);
      if (rate && x.value.windowStart !== undefined)
        await store.decrement(rate.key, rate.windowMs, x.value.windowStart).catch(() => undefined);
    }),
  );
  throw failure.reason;
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
