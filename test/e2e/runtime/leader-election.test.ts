/**
 * Two electors against one real API server and one Lease. Timings are short so takeovers
 * happen in seconds; bounds are generous multiples of them, never tight wall-clock checks.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { LeaderElector } from '../../../src/runtime/leader-election.js';
import type { KubeClients } from '../../../src/kube/client.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { REPO_ROOT } from '../../../tools/cluster/crds.js';
import { createNamespace, deleteNamespace, testClients } from '../../support/kube.js';
import { eventually, proxiedClients, recordingLogger, type CuttableProxy } from './helpers.js';

interface Candidate {
  elector: LeaderElector;
  log: string[];
  /** When each callback ran (Date.now()), for the order of one's step-down and another's start. */
  at: Record<'started' | 'stopped', number | undefined>;
  metrics: ReturnType<typeof createMetrics>;
}

const ELECTOR_MAIN = join(REPO_ROOT, 'test', 'e2e', 'runtime', 'fixtures', 'elector-main.ts');
const FAST = { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 250 };
/**
 * For tests about who leads rather than how fast a lease runs out: a renewal that stalls for
 * 1.5 s on a loaded machine would make FAST's leader step down mid-test.
 */
const STEADY = { leaseDurationMs: 8000, renewDeadlineMs: 6000, retryPeriodMs: 250 };

describe('LeaderElector on a real API server', () => {
  let ns: string;
  let lease = 0;
  const live: LeaderElector[] = [];
  const proxies: CuttableProxy[] = [];

  function candidate(
    identity: string,
    leaseName: string,
    opts: { clients?: KubeClients; timings?: typeof FAST } = {},
  ): Candidate {
    const log: string[] = [];
    const at: Candidate['at'] = { started: undefined, stopped: undefined };
    const metrics = createMetrics({ defaultMetrics: false });
    const elector = new LeaderElector({
      leases: (opts.clients ?? testClients()).coordination,
      namespace: ns,
      name: leaseName,
      identity,
      ...(opts.timings ?? FAST),
      logger: recordingLogger().logger,
      metrics,
      callbacks: {
        onStartedLeading: () => {
          at.started = Date.now();
          log.push('started');
        },
        onStoppedLeading: () => {
          at.stopped = Date.now();
          log.push('stopped');
        },
      },
    });
    live.push(elector);
    return { elector, log, at, metrics };
  }

  const readLease = (name: string) => testClients().coordination.readNamespacedLease({ name, namespace: ns });
  const newLeaseName = () => `lease-${++lease}`;
  const leaderOf = (cs: Candidate[]) => cs.find((c) => c.elector.isLeader());

  async function gauge(c: Candidate, name: string): Promise<number | undefined> {
    const m = (await c.metrics.registry.getMetricsAsJSON()).find(
      (x) => x.name === 'leader_election_master_status',
    );
    return m?.values.find((v) => v.labels.name === name)?.value;
  }

  beforeAll(async () => {
    ns = await createNamespace('rt-leader');
  });
  afterEach(async () => {
    await Promise.all(live.splice(0).map((e) => e.stop()));
    await Promise.all(proxies.splice(0).map((p) => p.close()));
  });
  afterAll(async () => {
    await deleteNamespace(ns);
  });

  it('lets exactly one of two candidates lead, and records it in the Lease', async () => {
    const name = newLeaseName();
    const a = candidate('a', name, { timings: STEADY });
    const b = candidate('b', name, { timings: STEADY });
    a.elector.start();
    b.elector.start();
    const leader = await eventually(() => leaderOf([a, b]), { what: 'a leader' });
    const standby = leader === a ? b : a;
    // Over several renew periods, never both.
    for (let i = 0; i < 12; i++) {
      expect([a, b].filter((c) => c.elector.isLeader())).toHaveLength(1);
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(standby.log).toEqual([]);
    expect(standby.elector.leader()).toBe(leader.elector.identity);
    const l = await readLease(name);
    expect(l.spec?.holderIdentity).toBe(leader.elector.identity);
    expect(l.spec?.leaseDurationSeconds).toBe(8);
    // Written as MicroTime: six fractional digits.
    expect(JSON.stringify(l.spec?.renewTime)).toMatch(/\.\d{6}Z"$/);
    expect(await gauge(leader, name)).toBe(1);
    expect(await gauge(standby, name)).toBe(0);
  });

  it('hands over after the leader dies without releasing, once the lease has run out', async () => {
    const name = newLeaseName();
    const a = candidate('a', name);
    a.elector.start();
    await eventually(() => a.elector.isLeader(), { what: 'a leads' });
    const b = candidate('b', name);
    b.elector.start();
    await new Promise((r) => setTimeout(r, 600));
    expect(b.elector.isLeader()).toBe(false);

    // Like a SIGKILL: renewals stop, the Lease still names a.
    await a.elector.stop();
    const dead = await readLease(name);
    expect(dead.spec?.holderIdentity).toBe('a');
    // Within the lease duration and a few retries (the deadline is the bound).
    await eventually(() => b.elector.isLeader(), {
      what: 'b takes over',
      timeoutMs: FAST.leaseDurationMs + 8000,
      intervalMs: 50,
    });
    const l = await readLease(name);
    expect(l.spec?.holderIdentity).toBe('b');
    // Not before the lease ran out: b acquired no sooner than a lease duration after a's last
    // renewal (both times written into the Lease by this machine's clock, in microseconds).
    const acquiredAfterMs = millis(l.spec?.acquireTime) - millis(dead.spec?.renewTime);
    expect(acquiredAfterMs).toBeGreaterThanOrEqual(FAST.leaseDurationMs - 1);
    expect(l.spec?.leaseTransitions).toBe(1);
    expect(b.log).toEqual(['started']);
  });

  it('release() lets the standby take over at once, long before the lease would run out', async () => {
    const name = newLeaseName();
    const slow = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 250 };
    const a = candidate('a', name, { timings: slow });
    a.elector.start();
    await eventually(() => a.elector.isLeader(), { what: 'a leads' });
    const b = candidate('b', name, { timings: slow });
    b.elector.start();
    await eventually(() => b.elector.leader() === 'a', { what: 'b sees a' });

    expect(await a.elector.release()).toBe(true);
    const releasedAt = Date.now();
    expect(a.log).toEqual(['started', 'stopped']);
    const released = await readLease(name);
    expect(released.spec?.holderIdentity ?? '').toBe('');
    expect(released.spec?.leaseDurationSeconds).toBe(1);

    await eventually(() => b.elector.isLeader(), { what: 'b takes over', timeoutMs: 10_000, intervalMs: 50 });
    // Well before the 15 s lease could have run out.
    expect(Date.now() - releasedAt).toBeLessThan(10_000);
    expect((await readLease(name)).spec?.holderIdentity).toBe('b');
  });

  it('steps down when it cannot renew within the renew deadline, and the standby takes over', async () => {
    const name = newLeaseName();
    const { proxy, clients } = await proxiedClients();
    proxies.push(proxy);
    const a = candidate('a', name, { clients });
    a.elector.start();
    await eventually(() => a.elector.isLeader(), { what: 'a leads' });
    const b = candidate('b', name);
    b.elector.start();

    proxy.cut();
    await eventually(() => !a.elector.isLeader(), {
      what: 'a steps down',
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    expect(a.log).toEqual(['started', 'stopped']);
    expect(await gauge(a, name)).toBe(0);
    await eventually(() => b.elector.isLeader(), { what: 'b takes over', timeoutMs: 10_000 });
    // It stopped acting before anyone else could start (measured by the order of the two
    // callbacks, not a wall-clock bound that a loaded machine could miss).
    expect(a.at.stopped!).toBeLessThanOrEqual(b.at.started!);
  });

  it('steps down at once when another holder has taken the Lease', async () => {
    const name = newLeaseName();
    const a = candidate('a', name, {
      timings: { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 250 },
    });
    a.elector.start();
    await eventually(() => a.elector.isLeader(), { what: 'a leads' });
    // Someone (a misconfigured twin, a person) writes another holder into the Lease.
    const l = await readLease(name);
    await testClients().coordination.replaceNamespacedLease({
      name,
      namespace: ns,
      body: { ...l, spec: { ...l.spec, holderIdentity: 'intruder' } },
    });
    await eventually(() => !a.elector.isLeader(), { what: 'a steps down', timeoutMs: 5000 });
    expect(a.log).toEqual(['started', 'stopped']);
  });
});

describe('LeaderElector in a separate process', () => {
  let ns: string;
  const children: ChildProcess[] = [];
  const live: LeaderElector[] = [];

  function spawnElector(lease: string, identity: string, env: Record<string, string> = {}) {
    const child = spawn(process.execPath, ['--import', 'tsx', ELECTOR_MAIN, ns, lease, identity], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, KUBECONFIG: process.env.KUBECONFIG, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    const out: string[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(...d.toString().split('\n').filter(Boolean)));
    child.stderr.on('data', (d: Buffer) => out.push(...d.toString().split('\n').filter(Boolean)));
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
      child.on('exit', (code, signal) => resolve(signal ?? code)),
    );
    return { child, out, exited };
  }

  function standby(lease: string, timings = FAST) {
    const elector = new LeaderElector({
      leases: testClients().coordination,
      namespace: ns,
      name: lease,
      identity: 'in-test',
      ...timings,
      logger: recordingLogger().logger,
      callbacks: { onStartedLeading: () => undefined, onStoppedLeading: () => undefined },
    });
    live.push(elector);
    elector.start();
    return elector;
  }

  beforeAll(async () => {
    ns = await createNamespace('rt-leader-proc');
  });
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all(live.splice(0).map((e) => e.stop()));
  });
  afterAll(async () => {
    await deleteNamespace(ns);
  });

  it('SIGKILL of the leader: the standby takes over once the lease runs out', async () => {
    const leader = spawnElector('proc-1', 'child');
    await eventually(() => leader.out.includes('LEADING'), {
      what: `child leads (output: ${leader.out.join(' | ')})`,
      timeoutMs: 60_000,
    });
    const b = standby('proc-1');
    await eventually(() => b.leader() === 'child', { what: 'standby sees the child' });

    leader.child.kill('SIGKILL');
    expect(await leader.exited).toBe('SIGKILL');
    // Within the lease duration and a few retries (the deadline is the bound).
    await eventually(() => b.isLeader(), {
      what: 'standby takes over',
      timeoutMs: FAST.leaseDurationMs + 8000,
      intervalMs: 50,
    });
    const lease = await testClients().coordination.readNamespacedLease({ name: 'proc-1', namespace: ns });
    expect(lease.spec).toMatchObject({ holderIdentity: 'in-test', leaseTransitions: 1 });
  });

  it('SIGTERM of the leader releases the Lease: the standby takes over at once', async () => {
    const slow = { LEASE_DURATION_MS: '15000', RENEW_DEADLINE_MS: '10000', RETRY_PERIOD_MS: '250' };
    const leader = spawnElector('proc-2', 'child', slow);
    await eventually(() => leader.out.includes('LEADING'), {
      what: `child leads (output: ${leader.out.join(' | ')})`,
      timeoutMs: 60_000,
    });
    const b = standby('proc-2', { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 250 });
    await eventually(() => b.leader() === 'child', { what: 'standby sees the child' });

    leader.child.kill('SIGTERM');
    expect(await leader.exited).toBe(0);
    const stoppedAt = Date.now();
    expect(leader.out).toContain('STOPPED');
    await eventually(() => b.isLeader(), { what: 'standby takes over', timeoutMs: 10_000, intervalMs: 50 });
    // Well before the 15 s lease could have run out.
    expect(Date.now() - stoppedAt).toBeLessThan(10_000);
  });
});

/** A Lease's MicroTime (a Date from the client, or its string) in milliseconds. */
function millis(t: Date | string | undefined): number {
  if (t === undefined) throw new Error('Lease time missing');
  return new Date(t).getTime();
}
