/** `claimAndIncrement()` as its two calls, for the stores where one more call costs little. */
import type { AdmissionRequest, AdmissionResult, ClaimResult, LimitStore } from './types.js';

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
