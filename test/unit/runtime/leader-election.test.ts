/**
 * tryAcquireOrRenew's decisions with a hand-driven clock. The Lease store below keeps only
 * the two API rules the algorithm relies on (404 on a missing Lease, 409 on a stale
 * resourceVersion); the e2e tests run the same code against a real API server.
 */
import { describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import {
  LeaderElector,
  leaderTimings,
  leaseNamespace,
  type LeaseApi,
} from '../../../src/runtime/leader-election.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { FakeClock } from '../../../src/util/clock.js';

class LeaseStore implements LeaseApi {
  private lease: k8s.V1Lease | undefined;
  private rv = 0;

  private fail(code: number, reason: string): never {
    throw new k8s.ApiException(code, reason, JSON.stringify({ kind: 'Status', code, reason }), {});
  }

  readNamespacedLease(): Promise<k8s.V1Lease> {
    if (!this.lease) this.fail(404, 'NotFound');
    return Promise.resolve(structuredClone(this.lease));
  }

  createNamespacedLease(p: { namespace: string; body: k8s.V1Lease }): Promise<k8s.V1Lease> {
    if (this.lease) this.fail(409, 'AlreadyExists');
    return Promise.resolve(this.write(p.body));
  }

  replaceNamespacedLease(p: { body: k8s.V1Lease }): Promise<k8s.V1Lease> {
    if (p.body.metadata?.resourceVersion !== this.lease?.metadata?.resourceVersion)
      this.fail(409, 'Conflict');
    return Promise.resolve(this.write(p.body));
  }

  current(): k8s.V1Lease | undefined {
    return this.lease;
  }

  private write(body: k8s.V1Lease): k8s.V1Lease {
    // As on the wire: times come back as strings.
    const json = JSON.parse(JSON.stringify(body)) as k8s.V1Lease;
    this.lease = { ...json, metadata: { ...json.metadata, resourceVersion: String(++this.rv) } };
    return structuredClone(this.lease);
  }
}

function setup() {
  const store = new LeaseStore();
  let t = 0;
  const clock = new FakeClock();
  const now = () => t;
  const advance = (ms: number) => {
    t += ms;
    clock.advance(ms);
  };
  const elector = (identity: string, leases: LeaseApi = store) =>
    new LeaderElector({
      leases,
      namespace: 'ns',
      name: 'lease',
      identity,
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2000,
      callbacks: { onStartedLeading: () => undefined, onStoppedLeading: () => undefined },
      logger: silentLogger(),
      clock,
      now,
    });
  return { store, advance, elector };
}

describe('LeaderElector.tryAcquireOrRenew', () => {
  it('creates the Lease when there is none, with MicroTime stamps', async () => {
    const { store, elector } = setup();
    expect(await elector('a').tryAcquireOrRenew()).toBe(true);
    const spec = store.current()!.spec!;
    expect(spec).toMatchObject({ holderIdentity: 'a', leaseDurationSeconds: 15, leaseTransitions: 0 });
    expect(spec.renewTime as unknown as string).toBe('2026-01-01T00:00:00.000000Z');
  });

  it('respects a valid foreign lease and takes it only leaseDuration after it last saw it change', async () => {
    const { store, advance, elector } = setup();
    const a = elector('a');
    const b = elector('b');
    await a.tryAcquireOrRenew();
    expect(await b.tryAcquireOrRenew()).toBe(false);
    expect(b.leader()).toBe('a');

    // a renews at 10 s: b sees a new version and restarts its count from then.
    advance(10_000);
    expect(await a.tryAcquireOrRenew()).toBe(true);
    advance(2000);
    expect(await b.tryAcquireOrRenew()).toBe(false);
    // 15 s after b saw a's last renewal: still valid by a hair, then expired.
    advance(14_999);
    expect(await b.tryAcquireOrRenew()).toBe(false);
    advance(1);
    expect(await b.tryAcquireOrRenew()).toBe(true);
    expect(store.current()!.spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
  });

  it('judges expiry by its own observation, not by the renewTime written by another clock', async () => {
    const { store, advance, elector } = setup();
    const a = elector('a');
    await a.tryAcquireOrRenew();
    // a's clock is an hour behind: its renewTime looks long expired to anyone comparing clocks.
    const l = store.current()!;
    l.spec!.renewTime = '2025-12-31T23:00:00.000000Z' as unknown as k8s.V1MicroTime;
    const b = elector('b');
    expect(await b.tryAcquireOrRenew()).toBe(false);
    advance(5000);
    expect(await b.tryAcquireOrRenew()).toBe(false);
  });

  it('keeps acquireTime and the transition count while renewing', async () => {
    const { store, advance, elector } = setup();
    const a = elector('a');
    await a.tryAcquireOrRenew();
    const acquired = store.current()!.spec!.acquireTime;
    advance(2000);
    await a.tryAcquireOrRenew();
    const spec = store.current()!.spec!;
    expect(spec.acquireTime).toEqual(acquired);
    expect(spec.renewTime as unknown as string).toBe('2026-01-01T00:00:02.000000Z');
    expect(spec.leaseTransitions).toBe(0);
  });

  it('takes an empty (released) lease at once', async () => {
    const { store, elector } = setup();
    const a = elector('a');
    await a.tryAcquireOrRenew();
    const l = store.current()!;
    await store.replaceNamespacedLease({
      body: { ...l, spec: { ...l.spec, holderIdentity: '', leaseDurationSeconds: 1 } },
    });
    expect(await elector('b').tryAcquireOrRenew()).toBe(true);
    expect(store.current()!.spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
  });

  it('loses the race on a stale resourceVersion (409)', async () => {
    const { store, advance, elector } = setup();
    await elector('a').tryAcquireOrRenew();
    const b = elector('b');
    let race = false;
    // c's read returns, then b writes before c's replace lands.
    const racing: LeaseApi = {
      readNamespacedLease: async () => {
        const l = await store.readNamespacedLease();
        if (race) expect(await b.tryAcquireOrRenew()).toBe(true);
        return l;
      },
      createNamespacedLease: (p) => store.createNamespacedLease(p),
      replaceNamespacedLease: (p) => store.replaceNamespacedLease(p),
    };
    const c = elector('c', racing);
    expect(await b.tryAcquireOrRenew()).toBe(false);
    expect(await c.tryAcquireOrRenew()).toBe(false);
    advance(20_000);
    race = true;
    expect(await c.tryAcquireOrRenew()).toBe(false);
    expect(store.current()!.spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
  });
});

describe('leaderTimings', () => {
  const cfg = (leaseDuration: string, renewDeadline: string, retryPeriod: string) => ({
    leaderElection: {
      enabled: true,
      namespace: '',
      leaseName: 'x',
      identity: 'i',
      leaseDuration,
      renewDeadline,
      retryPeriod,
    },
  });

  it('converts the configured durations', () => {
    expect(leaderTimings(cfg('15s', '10s', '2s'))).toEqual({
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2000,
    });
  });

  it('refuses timings that would let two leaders overlap or never renew in time', () => {
    expect(() => leaderTimings(cfg('10s', '10s', '2s'))).toThrow(
      /leaseDuration .* must be longer than leaderElection.renewDeadline/,
    );
    expect(() => leaderTimings(cfg('15s', '2s', '2s'))).toThrow(/renewDeadline .* must be longer than 1.2 x/);
    expect(() => leaderTimings(cfg('15s', '10s', '2s'))).not.toThrow();
  });
});

describe('leaseNamespace', () => {
  const le = (namespace: string) => ({
    leaderElection: {
      enabled: true,
      namespace,
      leaseName: 'x',
      identity: 'i',
      leaseDuration: '15s',
      renewDeadline: '10s',
      retryPeriod: '2s',
    },
  });

  it('prefers the configured namespace, then POD_NAMESPACE, then the kubeconfig context', () => {
    expect(leaseNamespace(le('ops'), undefined, { POD_NAMESPACE: 'pod-ns' })).toBe('ops');
    expect(leaseNamespace(le(''), undefined, { POD_NAMESPACE: 'pod-ns' })).toBe('pod-ns');
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: 'https://127.0.0.1:6443' }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u', namespace: 'from-context' }],
      currentContext: 'x',
    });
    expect(leaseNamespace(le(''), kc, {})).toBe('from-context');
  });
});
