import { describe, expect, it } from '@jest/globals';
import { AdmissionBatcher } from '../../../src/intake/admission-batcher.js';
import { MemoryLimitStore } from '../../../src/stores/memory.js';
import type { AdmissionRequest, AdmissionResult } from '../../../src/stores/types.js';

/** Counts the store calls the batcher makes (a memory store underneath). */
class CountingStore {
  readonly calls: number[] = [];
  fail = false;
  private readonly inner = new MemoryLimitStore();
  claimAndIncrementMany(requests: readonly AdmissionRequest[]): Promise<AdmissionResult[]> {
    this.calls.push(requests.length);
    if (this.fail) return Promise.reject(new Error('Connection terminated'));
    return this.inner.claimAndIncrementMany(requests);
  }
}

const req = (key: string): AdmissionRequest => ({
  cooldown: { key, owner: key, ttlMs: 60_000 },
  rate: { key: 'rate', windowMs: 3_600_000 },
});

describe('AdmissionBatcher', () => {
  it('sends what is asked in one turn as one store call, each caller getting its own answer in order', async () => {
    const store = new CountingStore();
    const b = new AdmissionBatcher(store);
    const answers = await Promise.all(['a', 'b', 'c'].map((k) => b.admit(req(k))));
    expect(store.calls).toEqual([3]);
    expect(answers.map((a) => a.count)).toEqual([1, 2, 3]);
    expect(answers.map((a) => a.claim?.owner)).toEqual(['a', 'b', 'c']);
    // a later turn is a later call
    await b.admit(req('d'));
    expect(store.calls).toEqual([3, 1]);
  });

  it('splits at the batch limit', async () => {
    const store = new CountingStore();
    const b = new AdmissionBatcher(store, 2);
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((k) => b.admit(req(k))));
    expect(store.calls).toEqual([2, 2, 1]);
  });

  it('settles every caller when the store throws at once or answers short', async () => {
    const throwing = {
      claimAndIncrementMany: (): Promise<AdmissionResult[]> => {
        throw new Error('boom');
      },
    };
    const b = new AdmissionBatcher(throwing, 2);
    const settled = await Promise.allSettled(['a', 'b', 'c'].map((k) => b.admit(req(k))));
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected', 'rejected']);
    const short = { claimAndIncrementMany: () => Promise.resolve([{}]) };
    const b2 = new AdmissionBatcher(short);
    const answers = await Promise.allSettled(['a', 'b'].map((k) => b2.admit(req(k))));
    expect(answers.map((s) => s.status)).toEqual(['rejected', 'rejected']);
  });

  it('gives every caller of a failed call the error', async () => {
    const store = new CountingStore();
    store.fail = true;
    const b = new AdmissionBatcher(store);
    const settled = await Promise.allSettled(['a', 'b'].map((k) => b.admit(req(k))));
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
  });
});
