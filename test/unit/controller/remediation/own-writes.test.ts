/** OwnWrites: read-your-writes over the informer cache (the reconciler's "expectations"). */
import { OWN_WRITE_TTL_MS, OwnWrites } from '../../../../src/controller/remediation/own-writes.js';
import type { Remediation } from '../../../../src/api/v1alpha1/schema.js';
import { aRemediation } from './builders.js';

const at = (rv: string, name = 'web-1'): Remediation => {
  const r = aRemediation({ name });
  return { ...r, metadata: { ...r.metadata, resourceVersion: rv } };
};

/** A write as the reconciler makes it: in flight, then answered. */
const write = (o: OwnWrites, obj: Remediation): void => {
  o.writing(obj.metadata.namespace ?? '', obj.metadata.name ?? '');
  o.wrote(obj);
};

describe('OwnWrites', () => {
  let now = 0;
  const own = (): OwnWrites => new OwnWrites(OWN_WRITE_TTL_MS, () => now);
  beforeEach(() => {
    now = 1000;
  });

  it('has nothing to say for a key it never wrote', () => {
    expect(own().read('shop', 'web-1')).toEqual({ kind: 'none' });
  });

  it('returns its own write until the cache shows that very resourceVersion', () => {
    const o = own();
    write(o, at('11'));
    expect(o.read('shop', 'web-1')).toMatchObject({
      kind: 'own',
      obj: { metadata: { resourceVersion: '11' } },
    });
    // An older event (the write before ours) does not satisfy it.
    o.observed(at('10'));
    expect(o.read('shop', 'web-1').kind).toBe('own');
    o.observed(at('11'));
    expect(o.read('shop', 'web-1')).toEqual({ kind: 'none' });
    expect(o.size).toBe(0);
  });

  it('tracks the last of several writes in a row', () => {
    const o = own();
    write(o, at('11'));
    write(o, at('12'));
    o.observed(at('11'));
    expect(o.read('shop', 'web-1')).toMatchObject({
      kind: 'own',
      obj: { metadata: { resourceVersion: '12' } },
    });
    o.observed(at('12'));
    expect(o.read('shop', 'web-1').kind).toBe('none');
  });

  it('keeps keys apart', () => {
    const o = own();
    write(o, at('11', 'a'));
    o.observed(at('11', 'b'));
    expect(o.read('shop', 'a').kind).toBe('own');
  });

  it('expires a write whose event never came, once, so the reconciler asks the API server', () => {
    const o = own();
    write(o, at('11'));
    now += OWN_WRITE_TTL_MS + 1;
    expect(o.read('shop', 'web-1')).toEqual({ kind: 'expired' });
    expect(o.read('shop', 'web-1')).toEqual({ kind: 'none' });
  });

  it('does not wait for a write whose watch event came before its response', () => {
    const o = own();
    o.writing('shop', 'web-1');
    o.observed(at('11')); // the watch is faster than the PATCH response
    o.wrote(at('11'));
    expect(o.read('shop', 'web-1').kind).toBe('none');
  });

  it('still waits when only older events came while the write was in flight', () => {
    const o = own();
    o.writing('shop', 'web-1');
    o.observed(at('10'));
    o.wrote(at('11'));
    expect(o.read('shop', 'web-1').kind).toBe('own');
  });

  it('forgets what the watch showed once a write failed', () => {
    const o = own();
    o.writing('shop', 'web-1');
    o.observed(at('11'));
    o.abandoned('shop', 'web-1');
    write(o, at('11')); // a later write: what the failed one saw does not count
    expect(o.read('shop', 'web-1').kind).toBe('own');
  });

  it('after a re-list, has every key still waiting read once from the API server', () => {
    const o = own();
    write(o, at('11', 'a'));
    write(o, at('12', 'b'));
    o.relisted();
    expect(o.read('shop', 'a')).toEqual({ kind: 'expired' });
    expect(o.read('shop', 'b')).toEqual({ kind: 'expired' });
    expect(o.size).toBe(0);
  });

  it('does not keep a write whose object was deleted while it was in flight', () => {
    const o = own();
    o.writing('shop', 'web-1');
    o.forget('shop', 'web-1'); // the DELETED event came before the PATCH response
    o.wrote(at('11'));
    expect(o.size).toBe(0);
  });

  it('drops its write when the cache holds a new object of the same name', () => {
    const o = own();
    write(o, { ...at('11'), metadata: { ...at('11').metadata, uid: 'old' } });
    const newer = { ...at('3'), metadata: { ...at('3').metadata, uid: 'new' } };
    expect(o.read('shop', 'web-1', newer)).toEqual({ kind: 'none' });
  });

  it('lets a GET made past a stale cache stand in until the cache shows it', () => {
    const o = own();
    o.fetched(at('15'), at('11'));
    expect(o.read('shop', 'web-1')).toMatchObject({
      kind: 'own',
      obj: { metadata: { resourceVersion: '15' } },
    });
    o.observed(at('15'));
    expect(o.read('shop', 'web-1').kind).toBe('none');
    o.fetched(at('15'), at('15')); // the cache already shows it
    expect(o.size).toBe(0);
  });

  it('forgets a deleted object', () => {
    const o = own();
    write(o, at('11'));
    o.forget('shop', 'web-1');
    expect(o.read('shop', 'web-1').kind).toBe('none');
  });

  it('ignores a write without a resourceVersion', () => {
    const o = own();
    write(o, aRemediation({ name: 'web-1' }));
    expect(o.size).toBe(0);
  });
});
