/**
 * The intake: one request's alerts in, one stored outcome per alert and matching Runbook out.
 *
 * Durability contract with Alertmanager (which retries 5xx and connection errors and drops on
 * 4xx): `handle()` reports a failure whenever any alert could not be given an outcome, and the
 * server then answers 5xx, so Alertmanager sends the group again. Retrying is safe because the
 * Remediation name is deterministic: what was created the first time is a 409 the second.
 */
import { ANNOTATIONS, type Remediation, type Runbook } from '../api/v1alpha1/index.js';
import { isNotFound, isUnavailable, statusCode, apiErrorMessage, type KubeClients } from '../kube/client.js';
import { remediations } from '../kube/resources.js';
import type { EventRecorder } from '../observability/events.js';
import type { Logger } from '../observability/logger.js';
import type { AlertOutcome, Metrics } from '../observability/metrics.js';
import type { AdmissionResult, LimitStore } from '../stores/types.js';
import { rfc3339, type Clock } from '../util/clock.js';
import { ERROR_CODES, RemediatorError, errorMessage, type ErrorCode } from '../util/errors.js';
import { AdmissionBatcher } from './admission-batcher.js';
import { Limiter } from './limiter.js';
import type { WebhookAlert } from './payload.js';
import {
  cooldownRefusal,
  matchingRunbooks,
  planRunbook,
  rateRefusal,
  runbookKey,
  type RunbookPlan,
} from './plan.js';
import {
  fingerprintSelector,
  hasLabels,
  resolveMatches,
  selectorText,
  type ResolveMatches,
} from './resolve-match.js';
import { RunbookStatusCounter } from './runbook-status.js';
import { SuppressionEvents } from './suppression-events.js';

/** Where the intake finds Runbooks: the informer cache in the operator, a LIST in tests. */
export type RunbookSource = () => Iterable<Runbook> | Promise<Iterable<Runbook>>;
/**
 * The Remediations of a namespace as the informer cache holds them, for resolved notifications.
 * Absent (tests, the benchmark), or when the cache knows no live match, the API server is asked.
 */
export type RemediationCache = (namespace: string) => Iterable<Remediation>;

export const DEFAULT_ALERT_CONCURRENCY = 32;
/** Occurrences this process knows to be handled (created or found to exist), newest kept. */
const HANDLED_CACHE_SIZE = 50_000;
/**
 * How long a handled occurrence is answered from memory. Short, because a person may delete a
 * Remediation (e.g. to clear loop protection): after this, a repeat asks the API server again
 * (a 409 still makes it a duplicate), so every replica gives the same answer within a minute.
 */
export const HANDLED_CACHE_TTL_MS = 60_000;
// Go's zero time: what Alertmanager sends as endsAt while an alert has no end.
const ZERO_TIME = /^0001-01-01T/;

export interface IntakeDeps {
  clients: KubeClients;
  runbooks: RunbookSource;
  store: LimitStore;
  metrics: Metrics;
  log: Logger;
  events: EventRecorder;
  clock: Clock;
  /** Alerts handled at once across all requests (API calls in flight); default 32. */
  alertConcurrency?: number;
  /** The informer cache of Remediations (the operator); resolved alerts look there first. */
  remediations?: RemediationCache;
}

export interface RunbookResult {
  /** `namespace/name` of the Runbook; absent for unmatched alerts. */
  runbook?: string;
  outcome: AlertOutcome;
  /** `namespace/name` of the Remediation created, found or marked (the newest, when several). */
  remediation?: string;
  /** Resolved alerts: every Remediation marked for revert (or found marked), newest first. */
  remediations?: string[];
  code?: ErrorCode;
  reason?: string;
}

export interface AlertResult {
  fingerprint: string;
  alertname: string;
  status: WebhookAlert['status'];
  results: RunbookResult[];
}

export interface IntakeResult {
  alerts: AlertResult[];
  /** Set when at least one alert has no stored outcome: the request must not be acknowledged. */
  failure?: RemediatorError;
}

const unavailable = (code: ErrorCode, what: string, err: unknown): RemediatorError =>
  new RemediatorError(code, `${what}: ${errorMessage(err)}; Alertmanager will retry`, { cause: err });

export class AlertIntake {
  private readonly limiter: Limiter;
  private readonly suppressions: SuppressionEvents;
  readonly runbookStatus: RunbookStatusCounter;
  /** Creates in flight in this process, by Remediation key: concurrent repeats wait for one. */
  private readonly inflight = new Map<string, Promise<RunbookResult>>();
  /**
   * Remediation keys this process created or saw answer 409. Alertmanager re-sends a group on
   * every change and every repeat_interval; answering those repeats from here spares the API
   * server a create per alert. Other replicas, and this one after a restart, still get the
   * 409, so correctness never depends on this cache.
   */
  private readonly handled = new Map<string, number>();
  /** A webhook group's cooldown claims and rate counts, as one store call. */
  private readonly admissions: AdmissionBatcher;
  constructor(private readonly deps: IntakeDeps) {
    this.limiter = new Limiter(deps.alertConcurrency ?? DEFAULT_ALERT_CONCURRENCY);
    this.admissions = new AdmissionBatcher(deps.store);
    this.suppressions = new SuppressionEvents(deps.events, deps.clock);
    this.runbookStatus = new RunbookStatusCounter(deps.clients, deps.log);
  }

  async handle(alerts: readonly WebhookAlert[]): Promise<IntakeResult> {
    let runbooks: Runbook[];
    try {
      runbooks = [...(await this.deps.runbooks())];
    } catch (err) {
      return { alerts: [], failure: unavailable(ERROR_CODES.kubeUnavailable, 'cannot list Runbooks', err) };
    }
    // Each alert of the group on its own: one alert's refusal or failure never decides another's.
    const settled = await Promise.all(
      alerts.map((a) => this.limiter.run(() => this.handleAlert(a, runbooks))),
    );
    let failure: RemediatorError | undefined;
    for (const r of settled) {
      for (const x of r.results) {
        this.deps.metrics.alertsTotal.inc({ outcome: x.outcome });
        if (x.outcome === 'error' && x.code && (!failure || x.code === ERROR_CODES.kubeUnavailable)) {
          failure = new RemediatorError(x.code, x.reason ?? 'alert not handled');
        }
      }
    }
    // Suppressions are recorded as Events: written before the answer, as part of the outcome.
    if (settled.some((r) => r.results.some((x) => x.outcome.startsWith('suppressed_'))))
      await this.suppressions.flush();
    return failure ? { alerts: settled, failure } : { alerts: settled };
  }

  private async handleAlert(alert: WebhookAlert, runbooks: readonly Runbook[]): Promise<AlertResult> {
    const base = {
      fingerprint: alert.fingerprint,
      alertname: alert.labels.alertname ?? '',
      status: alert.status,
    };
    const matched = matchingRunbooks(runbooks, alert);
    if (matched.length === 0) {
      return {
        ...base,
        results: [{ outcome: alert.status === 'firing' ? 'unmatched' : 'resolved_unknown' }],
      };
    }
    const results = await Promise.all(
      matched.map(async (rb): Promise<RunbookResult> => {
        try {
          return alert.status === 'firing' ? await this.fire(rb, alert) : await this.resolve(rb, alert);
        } catch (err) {
          const code = err instanceof RemediatorError ? err.code : ERROR_CODES.kubeUnavailable;
          this.deps.log.warn('alert not handled', {
            runbook: runbookKey(rb),
            fingerprint: alert.fingerprint,
            code,
            error: errorMessage(err),
          });
          return { runbook: runbookKey(rb), outcome: 'error', code, reason: errorMessage(err) };
        }
      }),
    );
    return { ...base, results };
  }

  private async fire(rb: Runbook, alert: WebhookAlert): Promise<RunbookResult> {
    const plan = planRunbook(rb, alert);
    if (plan.kind === 'refuse') return this.suppressed(rb, alert, plan.outcome, plan.reason, plan.code);
    const key = `${rb.metadata.namespace}/${plan.name}`;
    const seen = this.handled.get(key);
    if (seen !== undefined && this.deps.clock.now().getTime() - seen < HANDLED_CACHE_TTL_MS) {
      return { runbook: runbookKey(rb), outcome: 'duplicate', remediation: key };
    }
    const running = this.inflight.get(key);
    if (running) {
      // The same occurrence is being created right now in this process: it is a repeat.
      const first = await running;
      return first.outcome === 'created' ? { ...first, outcome: 'duplicate' } : first;
    }
    const p = this.gateAndCreate(rb, alert, plan);
    this.inflight.set(key, p);
    try {
      const result = await p;
      if (result.outcome === 'created' || result.outcome === 'duplicate') this.remember(key);
      return result;
    } finally {
      this.inflight.delete(key);
    }
  }

  private remember(key: string): void {
    this.handled.delete(key); // re-insert: the Map's order is the eviction order
    this.handled.set(key, this.deps.clock.now().getTime());
    if (this.handled.size > HANDLED_CACHE_SIZE) {
      const oldest = this.handled.keys().next();
      if (!oldest.done) this.handled.delete(oldest.value);
    }
  }

  /**
   * Cooldown claim and rate window (one store call), then create (create()). Whatever was taken from the
   * store is given back when the create does not happen (duplicate, rate limit exceeded,
   * unreachable API, refusal), so a retry by Alertmanager finds the store as it was.
   */
  private async gateAndCreate(
    rb: Runbook,
    alert: WebhookAlert,
    plan: Extract<RunbookPlan, { kind: 'create' }>,
  ): Promise<RunbookResult> {
    const { store } = this.deps;
    const namespace = rb.metadata.namespace ?? '';
    const remediation = `${namespace}/${plan.name}`;
    let claimed = false;
    // The window the count landed in: the undo may run after its end, and must not take the
    // count back from the next window.
    let countedIn: number | undefined;
    const undo = async (): Promise<void> => {
      try {
        if (claimed && plan.cooldown) await store.release(plan.cooldown.key, plan.name);
        if (countedIn !== undefined && plan.rate)
          await store.decrement(plan.rate.key, plan.rate.windowMs, countedIn);
      } catch (err) {
        this.deps.log.warn('store not rolled back', {
          runbook: runbookKey(rb),
          remediation,
          error: errorMessage(err),
        });
      }
    };

    try {
      // Claim and count in one call, batched with the rest of the group's (one round trip with
      // PostgreSQL); nothing is counted when the claim is held, by another occurrence or by this
      // very one.
      const taken: AdmissionResult =
        plan.cooldown || plan.rate
          ? await this.admissions.admit({
              cooldown: plan.cooldown && {
                key: plan.cooldown.key,
                owner: plan.name,
                ttlMs: plan.cooldown.ttlMs,
              },
              rate: plan.rate && { key: plan.rate.key, windowMs: plan.rate.windowMs },
            })
          : {};
      const { claim: c, count: n } = taken;
      const cooling = cooldownRefusal(rb, plan, c);
      if (cooling) return this.suppressed(rb, alert, cooling.outcome, cooling.reason);
      // Held by this very name: the same occurrence was seen before, so the create will tell.
      if (c) claimed = c.acquired;
      if (plan.rate && n !== undefined) {
        countedIn = taken.windowStart;
        const over = rateRefusal(plan, n);
        if (over) {
          await undo();
          if (await this.exists(namespace, plan.name))
            return { runbook: runbookKey(rb), outcome: 'duplicate', remediation };
          return this.suppressed(rb, alert, over.outcome, over.reason);
        }
      }
    } catch (err) {
      if (err instanceof RemediatorError) throw err;
      await undo();
      throw unavailable(
        ERROR_CODES.storeUnavailable,
        `cooldown/rate-limit store (${store.kind}) failed`,
        err,
      );
    }

    return this.create(rb, alert, plan, undo);
  }

  /** Creates the Remediation admitted by gateAndCreate; `undo` gives back what it took. */
  private async create(
    rb: Runbook,
    alert: WebhookAlert,
    plan: Extract<RunbookPlan, { kind: 'create' }>,
    undo: () => Promise<void>,
  ): Promise<RunbookResult> {
    const namespace = rb.metadata.namespace ?? '';
    const remediation = `${namespace}/${plan.name}`;
    try {
      await remediations(this.deps.clients).create(namespace, plan.remediation);
    } catch (err) {
      await undo();
      if (statusCode(err) === 409) return { runbook: runbookKey(rb), outcome: 'duplicate', remediation };
      if (isUnavailable(err))
        throw unavailable(ERROR_CODES.kubeUnavailable, 'cannot create the Remediation', err);
      // A refusal by the API server (RBAC, admission): not the sender's fault, so not a 4xx.
      throw new RemediatorError(
        ERROR_CODES.actionFailed,
        `the API server refused Remediation ${remediation}: ${apiErrorMessage(err)}`,
        { cause: err },
      );
    }
    this.deps.log.info('remediation created', {
      runbook: runbookKey(rb),
      remediation,
      fingerprint: alert.fingerprint,
    });
    this.runbookStatus.bump(namespace, rb.metadata.name ?? '', rfc3339(this.deps.clock.now()));
    return { runbook: runbookKey(rb), outcome: 'created', remediation };
  }

  private async exists(namespace: string, name: string): Promise<boolean> {
    try {
      await remediations(this.deps.clients).get(namespace, name);
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw unavailable(ERROR_CODES.kubeUnavailable, 'cannot read the Remediation', err);
    }
  }

  /**
   * Marks for revert every live Remediation of this Runbook and alert fingerprint, whatever its
   * `startsAt` (ADR 0021). Looked up by label: in the informer cache first (no API call in a
   * storm of resolved notifications), and in the API server when the cache knows no live one
   * (it may not have seen a create of a moment ago), before answering `resolved_unknown`. So a
   * replica that only receives the resolved notification finds what another one created.
   */
  private async resolve(rb: Runbook, alert: WebhookAlert): Promise<RunbookResult> {
    const namespace = rb.metadata.namespace ?? '';
    const endsAt =
      alert.endsAt && !ZERO_TIME.test(alert.endsAt) ? alert.endsAt : rfc3339(this.deps.clock.now());
    const found = await this.liveMatches(rb, alert, endsAt);
    const marked = await Promise.all(found.mark.map((rem) => this.markResolved(rem, endsAt)));
    const touched = [...found.mark.filter((_r, i) => marked[i]), ...found.already].map(
      (r) => `${namespace}/${r.metadata.name ?? ''}`,
    );
    if (touched.length === 0) return { runbook: runbookKey(rb), outcome: 'resolved_unknown' };
    this.deps.log.info('remediation marked for revert', {
      runbook: runbookKey(rb),
      fingerprint: alert.fingerprint,
      remediations: touched,
    });
    return {
      runbook: runbookKey(rb),
      outcome: 'resolved_marked',
      remediation: touched[0]!,
      remediations: touched,
    };
  }

  private async liveMatches(rb: Runbook, alert: WebhookAlert, endsAt: string): Promise<ResolveMatches> {
    const namespace = rb.metadata.namespace ?? '';
    const sel = fingerprintSelector(rb.metadata.name ?? '', alert.fingerprint);
    const cache = this.deps.remediations;
    if (cache) {
      const cached = [...cache(namespace)].filter((r) => hasLabels(r, sel));
      const m = resolveMatches(cached, rb, alert.fingerprint, endsAt);
      if (m.mark.length > 0 || m.already.length > 0) return m;
    }
    let items: Remediation[];
    try {
      items = (await remediations(this.deps.clients).list(namespace, selectorText(sel))).items;
    } catch (err) {
      throw unavailable(ERROR_CODES.kubeUnavailable, 'cannot list the Remediations of the alert', err);
    }
    return resolveMatches(items, rb, alert.fingerprint, endsAt);
  }

  /** One merge patch: the annotation and the alert's status and end. False when it is gone. */
  private async markResolved(rem: Remediation, endsAt: string): Promise<boolean> {
    const namespace = rem.metadata.namespace ?? '';
    const name = rem.metadata.name ?? '';
    try {
      await remediations(this.deps.clients).patch(namespace, name, {
        metadata: { annotations: { [ANNOTATIONS.revert]: 'true' } },
        spec: { alert: { status: 'resolved', endsAt } },
      });
      return true;
    } catch (err) {
      // Deleted since the lookup (by a person, or retention): nothing left to revert there.
      if (isNotFound(err)) return false;
      if (isUnavailable(err))
        throw unavailable(ERROR_CODES.kubeUnavailable, 'cannot mark the Remediation resolved', err);
      throw new RemediatorError(
        ERROR_CODES.actionFailed,
        `the API server refused to mark ${namespace}/${name} resolved: ${apiErrorMessage(err)}`,
        { cause: err },
      );
    }
  }

  private suppressed(
    rb: Runbook,
    alert: WebhookAlert,
    outcome: AlertOutcome,
    reason: string,
    code?: ErrorCode,
  ): RunbookResult {
    const alertname = alert.labels.alertname ?? '';
    this.deps.log.info('alert suppressed', {
      runbook: runbookKey(rb),
      alertname,
      fingerprint: alert.fingerprint,
      outcome,
      reason,
    });
    this.suppressions.record(
      rb,
      `${alert.fingerprint}/${alert.startsAt}`,
      outcome,
      `alert ${alertname} (fingerprint ${alert.fingerprint}) not remediated: ${outcome}: ${reason}`,
    );
    return { runbook: runbookKey(rb), outcome, reason, ...(code ? { code } : {}) };
  }

  /** Waits for the best-effort writes (Runbook status counters, Events). */
  async flush(): Promise<void> {
    await this.runbookStatus.flush();
    await this.suppressions.flush();
  }
}
