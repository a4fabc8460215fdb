/**
 * The admissions (cooldown claim and rate count) that new alerts ask for in the same turn of the
 * event loop go to the store as one `claimAndIncrementMany()`: the alerts of a webhook group are
 * handled concurrently, so their admissions arrive together. With PostgreSQL that is one round
 * trip and one transaction for the group instead of one per alert, and about a fifth of the
 * server's CPU per alert, which on a small machine the API server needs for the creates
 * (docs/benchmarks.md). Memory and Redis get them all at once, as before.
 *
 * Each caller gets its own answer, in the order asked; when the store call fails, every caller
 * of that batch gets the error (nothing was taken: the call is all or nothing).
 */
import type { AdmissionRequest, AdmissionResult, LimitStore } from '../stores/types.js';

/** Most requests in one store call; more wait for the next one. */
export const MAX_ADMISSION_BATCH = 100;

interface Waiting {
  request: AdmissionRequest;
  resolve(r: AdmissionResult): void;
  reject(err: unknown): void;
}

export class AdmissionBatcher {
  private waiting: Waiting[] = [];

  constructor(
    private readonly store: Pick<LimitStore, 'claimAndIncrementMany'>,
    private readonly maxBatch = MAX_ADMISSION_BATCH,
  ) {}

  admit(request: AdmissionRequest): Promise<AdmissionResult> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ request, resolve, reject });
      // After the callers of this turn have asked (setImmediate runs after the microtasks).
      if (this.waiting.length === 1) setImmediate(() => this.flush());
      else if (this.waiting.length >= this.maxBatch) this.flush();
    });
  }

  private flush(): void {
    const batch = this.waiting.splice(0);
    if (batch.length === 0) return;
    // Every caller settles, whatever the store does (throws at once, answers short).
    Promise.resolve()
      .then(() => this.store.claimAndIncrementMany(batch.map((w) => w.request)))
      .then((results) => {
        if (results.length !== batch.length)
          throw new Error(`the store answered ${results.length} of ${batch.length} admissions`);
        batch.forEach((w, i) => w.resolve(results[i]!));
      })
      .catch((err: unknown) => batch.forEach((w) => w.reject(err)));
  }
}
