/** PassReads: apply() takes plan()'s read once; nothing else is served from it. */
import { PassReads } from '../../../src/actions/types.js';
import type { KubeObject } from '../../../src/kube/raw-object.js';

const obj = (rv: string): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', resourceVersion: rv },
});

describe('PassReads', () => {
  it("hands plan()'s read to apply() once, then nothing", () => {
    const r = new PassReads();
    r.record('k', obj('1'));
    expect(r.take('k')).toBeUndefined(); // a second read inside plan() goes to the API server
    r.startApply();
    expect(r.take('k')?.metadata?.resourceVersion).toBe('1');
    expect(r.take('k')).toBeUndefined();
  });

  it("does not record apply()'s own reads: a retry after a lost compare-and-swap reads afresh", () => {
    const r = new PassReads();
    r.startApply();
    r.record('k', obj('2'));
    expect(r.take('k')).toBeUndefined();
  });
});
