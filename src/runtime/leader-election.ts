/**
 * Lease-based leader election (coordination.k8s.io/v1), a port of client-go's
 * tools/leaderelection. client-node has none, and the ready-made npm package judges expiry
 * from the holder's renewTime against our clock, which breaks under clock skew.
 *
 * The rules, as in client-go:
 * - A foreign lease is valid until leaseDuration after *we* first saw its current version
 *   (`observedAt`, a local monotonic time): clocks of different nodes are never compared.
 * - Every write is a replace carrying the resourceVersion we read, so two candidates cannot
 *   both win: the second gets 409.
 * - The leader renews every retryPeriod; when it has not renewed for renewDeadline (which is
 *   shorter than leaseDuration) it steps down before anyone else may take over.
 * - `release()` on shutdown empties holderIdentity and sets a 1 s duration, so a standby
 *   takes over on its next try instead of waiting out the lease.
 *
 * Stricter than client-go: a leader that sees another holder or gets 409 on renewal steps
 * down at once instead of retrying until its deadline, since someone else may act already.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import type { Config } from '../config/config.js';
import { apiErrorMessage, isConflict, isNotFound, statusCode } from '../kube/client.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { systemClock, type Clock } from '../util/clock.js';
import { parseDuration } from '../util/duration.js';
import { ERROR_CODES, RemediatorError } from '../util/errors.js';

/** client-go's JitterUntil factor for acquire retries: waits between 1x and 2.2x retryPeriod. */
const ACQUIRE_JITTER = 1.2;
/** release() must not hold up a shutdown that has a grace period to respect. */
const RELEASE_TIMEOUT_MS = 5000;
const SERVICE_ACCOUNT_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** What the elector uses of CoordinationV1Api, which satisfies it. */
export interface LeaseApi {
  readNamespacedLease(
    p: { name: string; namespace: string },
    o?: k8s.ConfigurationOptions,
  ): Promise<k8s.V1Lease>;
  createNamespacedLease(
    p: { namespace: string; body: k8s.V1Lease },
    o?: k8s.ConfigurationOptions,
  ): Promise<k8s.V1Lease>;
  replaceNamespacedLease(
    p: { name: string; namespace: string; body: k8s.V1Lease },
    o?: k8s.ConfigurationOptions,
  ): Promise<k8s.V1Lease>;
}

export interface LeaderCallbacks {
  onStartedLeading(): void;
  /** Leadership ended: lost, stopped or released. Not called again after a stop. */
  onStoppedLeading(): void;
  onNewLeader?(identity: string): void;
}

export interface LeaderElectorOptions {
  leases: LeaseApi;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  callbacks: LeaderCallbacks;
  logger: Logger;
  metrics?: Pick<Metrics, 'leaderStatus'>;
  /** Wall time, only written into the Lease for people to read. */
  clock?: Clock;
  /** Monotonic milliseconds, for every validity decision. */
  now?: () => number;
}

/** Per-call options that abort the request on `signal` (client-node has no timeout option). */
export function withSignal(signal: AbortSignal): k8s.ConfigurationOptions {
  return {
    middleware: [
      {
        pre: (ctx) => {
          ctx.setSignal(signal);
          return new k8s.Observable(Promise.resolve(ctx));
        },
        post: (rsp) => new k8s.Observable(Promise.resolve(rsp)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}

/** The Lease namespace: configured, else POD_NAMESPACE, the pod's service account, the kubeconfig context, `default`. */
export function leaseNamespace(
  cfg: Pick<Config, 'leaderElection'>,
  kc?: k8s.KubeConfig,
  env: NodeJS.ProcessEnv = process.env,
): string {
  if (cfg.leaderElection.namespace) return cfg.leaderElection.namespace;
  if (env.POD_NAMESPACE) return env.POD_NAMESPACE;
  try {
    const ns = readFileSync(SERVICE_ACCOUNT_NAMESPACE_FILE, 'utf8').trim();
    if (ns) return ns;
  } catch {
    // Not in a pod.
  }
  const ctx = kc?.getContextObject(kc.getCurrentContext());
  return ctx?.namespace || 'default';
}

/** Elector timings from config, checked as client-go checks them. */
export function leaderTimings(cfg: Pick<Config, 'leaderElection'>): {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
} {
  const leaseDurationMs = parseDuration(cfg.leaderElection.leaseDuration);
  const renewDeadlineMs = parseDuration(cfg.leaderElection.renewDeadline);
  const retryPeriodMs = parseDuration(cfg.leaderElection.retryPeriod);
  if (!(leaseDurationMs > renewDeadlineMs)) {
    throw new RemediatorError(
      ERROR_CODES.config,
      `leaderElection.leaseDuration (${cfg.leaderElection.leaseDuration}) must be longer than leaderElection.renewDeadline (${cfg.leaderElection.renewDeadline})`,
    );
  }
  if (!(renewDeadlineMs > retryPeriodMs * ACQUIRE_JITTER)) {
    throw new RemediatorError(
      ERROR_CODES.config,
      `leaderElection.renewDeadline (${cfg.leaderElection.renewDeadline}) must be longer than 1.2 x leaderElection.retryPeriod (${cfg.leaderElection.retryPeriod})`,
    );
  }
  if (leaseDurationMs < 1000) {
    throw new RemediatorError(
      ERROR_CODES.config,
      'leaderElection.leaseDuration must be at least 1s (the Lease counts whole seconds)',
    );
  }
  return { leaseDurationMs, renewDeadlineMs, retryPeriodMs };
}

export class LeaderElector {
  readonly identity: string;
  readonly namespace: string;
  readonly name: string;
  private readonly o: LeaderElectorOptions;
  private readonly clock: Clock;
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly leaseDurationSeconds: number;
  /** The last Lease spec we read or wrote, and when we first saw its version. */
  private observed: k8s.V1LeaseSpec = {};
  private observedAt = 0;
  private observedVersion: string | undefined;
  private leading = false;
  /** Set when a renewal proved someone else holds the Lease. */
  private lost = false;
  private stopped = false;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(opts: LeaderElectorOptions) {
    this.o = opts;
    this.identity = opts.identity;
    this.namespace = opts.namespace;
    this.name = opts.name;
    this.clock = opts.clock ?? systemClock;
    this.now = opts.now ?? (() => performance.now());
    this.log = opts.logger.child({ lease: `${opts.namespace}/${opts.name}`, identity: opts.identity });
    this.leaseDurationSeconds = Math.max(1, Math.ceil(opts.leaseDurationMs / 1000));
    this.setGauge(false);
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** The holder we last observed, if any. */
  leader(): string | undefined {
    return this.observed.holderIdentity || undefined;
  }

  /** Campaigns, then renews, in the background until stopped or leadership is lost. */
  start(): void {
    if (this.loop || this.stopped) return;
    this.loop = this.run().catch((err: unknown) => {
      this.log.error('leader election loop failed', { error: apiErrorMessage(err) });
      this.stepDown('loop failed');
    });
  }

  /** Stops campaigning and renewing without touching the Lease (it runs out by itself). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.loop;
    this.stepDown('stopped');
  }

  /**
   * Stops, then hands the Lease over at once if we hold it. Returns false if the Lease could
   * not be released (it then expires after leaseDuration).
   */
  async release(): Promise<boolean> {
    const wasLeading = this.leading;
    this.stopped = true;
    this.abort.abort();
    await this.loop;
    if (!wasLeading || this.lost) {
      this.stepDown('stopped');
      return true;
    }
    const signal = AbortSignal.timeout(RELEASE_TIMEOUT_MS);
    try {
      // Read afresh: a renewal aborted by stop() may still have landed and moved the version.
      const lease = await this.o.leases.readNamespacedLease(
        { name: this.name, namespace: this.namespace },
        withSignal(signal),
      );
      if (lease.spec?.holderIdentity !== this.identity) return true;
      const at = new k8s.V1MicroTime(this.clock.now().getTime());
      await this.o.leases.replaceNamespacedLease(
        {
          name: this.name,
          namespace: this.namespace,
          body: {
            ...lease,
            spec: {
              holderIdentity: '',
              leaseDurationSeconds: 1,
              acquireTime: at,
              renewTime: at,
              leaseTransitions: lease.spec.leaseTransitions ?? 0,
            },
          },
        },
        withSignal(signal),
      );
      this.log.info('leader lease released');
      return true;
    } catch (err) {
      this.log.warn('leader lease release failed; it expires by itself', {
        error: apiErrorMessage(err),
        statusCode: statusCode(err),
      });
      return false;
    } finally {
      this.stepDown('released');
    }
  }

  /**
   * One attempt, as client-go's tryAcquireOrRenew: true if we hold the Lease afterwards.
   * Public for tests.
   */
  async tryAcquireOrRenew(signal?: AbortSignal): Promise<boolean> {
    const opts = signal ? withSignal(signal) : undefined;
    const at = new k8s.V1MicroTime(this.clock.now().getTime());
    const desired: k8s.V1LeaseSpec = {
      holderIdentity: this.identity,
      leaseDurationSeconds: this.leaseDurationSeconds,
      acquireTime: at,
      renewTime: at,
    };

    let lease: k8s.V1Lease;
    try {
      lease = await this.o.leases.readNamespacedLease({ name: this.name, namespace: this.namespace }, opts);
    } catch (err) {
      if (!isNotFound(err)) {
        this.log.warn('leader lease read failed', {
          error: apiErrorMessage(err),
          statusCode: statusCode(err),
        });
        return false;
      }
      try {
        const created = await this.o.leases.createNamespacedLease(
          {
            namespace: this.namespace,
            body: {
              metadata: { name: this.name, namespace: this.namespace },
              spec: { ...desired, leaseTransitions: 0 },
            },
          },
          opts,
        );
        this.observe(created.spec ?? desired);
        return true;
      } catch (createErr) {
        // 409 AlreadyExists: another candidate created it first; the next try reads it.
        this.log.debug('leader lease create failed', {
          error: apiErrorMessage(createErr),
          statusCode: statusCode(createErr),
        });
        return false;
      }
    }

    const old = lease.spec ?? {};
    if (lease.metadata?.resourceVersion !== this.observedVersion) {
      this.observedVersion = lease.metadata?.resourceVersion;
      this.observe(old);
    }
    const heldByUs = old.holderIdentity === this.identity;
    if (old.holderIdentity && !heldByUs) {
      if (this.leading) {
        // Even if it expired meanwhile: another holder may have acted, so we must not go on.
        this.lost = true;
        return false;
      }
      if (this.isObservedValid()) return false;
    }

    if (heldByUs) {
      desired.acquireTime = old.acquireTime ?? at;
      desired.leaseTransitions = old.leaseTransitions ?? 0;
    } else {
      desired.leaseTransitions = (old.leaseTransitions ?? 0) + 1;
    }
    try {
      const updated = await this.o.leases.replaceNamespacedLease(
        { name: this.name, namespace: this.namespace, body: { ...lease, spec: desired } },
        opts,
      );
      this.observe(updated.spec ?? desired);
      return true;
    } catch (err) {
      if (isConflict(err)) {
        // Someone wrote the Lease after our read: another candidate won this round.
        if (this.leading) this.lost = true;
        this.log.debug('leader lease update conflicted');
      } else {
        this.log.warn('leader lease update failed', {
          error: apiErrorMessage(err),
          statusCode: statusCode(err),
        });
      }
      return false;
    }
  }

  private async run(): Promise<void> {
    // Acquire: try until we hold the Lease.
    while (!this.stopped) {
      if (await this.tryAcquireOrRenew(this.attemptSignal(this.o.leaseDurationMs))) break;
      if (!(await this.pause(this.o.retryPeriodMs * (1 + Math.random() * ACQUIRE_JITTER)))) return;
    }
    if (this.stopped) return;
    this.leading = true;
    this.setGauge(true);
    this.log.info('leader lease acquired');
    this.o.callbacks.onStartedLeading();

    // Renew every retryPeriod; when renewals keep failing, retry until renewDeadline after
    // the last success, then step down at once (each attempt is cut off at that deadline).
    let renewedAt = this.now();
    let wait = this.o.retryPeriodMs;
    while (!this.stopped) {
      if (!(await this.pause(wait))) return;
      const left = renewedAt + this.o.renewDeadlineMs - this.now();
      const ok = left > 0 && (await this.tryAcquireOrRenew(this.attemptSignal(left)));
      if (this.stopped) return;
      if (ok) {
        renewedAt = this.now();
        wait = this.o.retryPeriodMs;
        continue;
      }
      if (this.lost) {
        this.log.error('leader lease taken by another holder; stepping down', { holder: this.leader() });
        this.stepDown('lost');
        return;
      }
      const stillLeft = renewedAt + this.o.renewDeadlineMs - this.now();
      if (stillLeft <= 0) {
        this.log.error('leader lease not renewed within the renew deadline; stepping down', {
          renewDeadlineMs: this.o.renewDeadlineMs,
        });
        this.stepDown('renew deadline');
        return;
      }
      wait = Math.min(this.o.retryPeriodMs, stillLeft);
    }
  }

  /** Waits `ms`; false if stopped meanwhile. */
  private async pause(ms: number): Promise<boolean> {
    try {
      await sleep(ms, undefined, { signal: this.abort.signal });
      return !this.stopped;
    } catch {
      return false;
    }
  }

  private attemptSignal(timeoutMs: number): AbortSignal {
    return AbortSignal.any([this.abort.signal, AbortSignal.timeout(Math.max(1, Math.round(timeoutMs)))]);
  }

  private observe(spec: k8s.V1LeaseSpec): void {
    const before = this.observed.holderIdentity;
    this.observed = spec;
    this.observedAt = this.now();
    const holder = spec.holderIdentity;
    if (holder && holder !== before) {
      this.log.info('leader observed', { leader: holder });
      this.o.callbacks.onNewLeader?.(holder);
    }
  }

  private isObservedValid(): boolean {
    return this.observedAt + (this.observed.leaseDurationSeconds ?? 0) * 1000 > this.now();
  }

  private stepDown(why: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.setGauge(false);
    this.log.info('leader lease no longer held', { why });
    this.o.callbacks.onStoppedLeading();
  }

  private setGauge(leading: boolean): void {
    this.o.metrics?.leaderStatus.set({ name: this.name }, leading ? 1 : 0);
  }
}
