/**
 * Every metric the operator exposes, in one registry. Names mirror controller-runtime where
 * the meaning is the same, so existing dashboards work. Label values that are known up front
 * are pre-initialised to 0 so that rate() and absent() behave from the first scrape.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, exponentialBuckets } from 'prom-client';
import { ACTIONS } from '../api/v1alpha1/schema.js';

export const ALERT_OUTCOMES = [
  'created',
  'duplicate',
  'suppressed_cooldown',
  'suppressed_rate_limit',
  'suppressed_out_of_scope',
  'suppressed_invalid_param',
  'unmatched',
  'resolved_marked',
  'resolved_unknown',
  'error',
] as const;
export type AlertOutcome = (typeof ALERT_OUTCOMES)[number];

/** The ends of a Remediation (src/controller/remediation/finish-result.ts). */
export const FINISH_RESULTS = [
  'succeeded',
  'failed',
  'skipped',
  'dry_run',
  'blocked',
  'reverted',
  'revert_failed',
] as const;
export type FinishResult = (typeof FINISH_RESULTS)[number];

export const STORES = ['redis', 'postgres'] as const;
/**
 * From an alert to a remediation's first action or end: seconds when the operator is keeping
 * up, minutes when a person approves or a rollout waits, an hour and more for an alert that
 * fired long before its Remediation (a cooldown that ran out while it kept firing).
 */
const LATENCY_BUCKETS = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200];
const RECONCILE_RESULTS = ['success', 'error', 'requeue', 'requeue_after'] as const;
const ACTION_RESULTS = ['success', 'failure', 'dry_run', 'refused'] as const;
export const CONTROLLERS = ['remediation', 'runbook'] as const;
export const RETENTION_REASONS = ['ttl', 'successfulHistoryLimit', 'failedHistoryLimit'] as const;

export interface Metrics {
  readonly registry: Registry;
  readonly reconcileTotal: Counter<'controller' | 'result'>;
  readonly reconcileErrors: Counter<'controller'>;
  readonly reconcileTime: Histogram<'controller'>;
  readonly activeWorkers: Gauge<'controller'>;
  readonly queueDepth: Gauge<'name'>;
  readonly queueAdds: Counter<'name'>;
  readonly queueDuration: Histogram<'name'>;
  readonly queueRetries: Counter<'name'>;
  readonly leaderStatus: Gauge<'name'>;
  readonly remediations: Gauge<'runbook' | 'phase'>;
  readonly remediationsStarted: Counter<'runbook'>;
  readonly remediationsFinished: Counter<'runbook' | 'result'>;
  /** Finished Remediations deleted by retention (ADR 0022), by runbook and reason. */
  readonly remediationsDeleted: Counter<'runbook' | 'reason'>;
  readonly alertToFirstAction: Histogram<'runbook'>;
  readonly alertToFinish: Histogram<'runbook'>;
  readonly actionsTotal: Counter<'action' | 'result'>;
  /** Changes a finished Remediation held applied that someone else put back (GitOps self-heal), by runbook. */
  readonly gitopsDrift: Counter<'runbook'>;
  readonly actionDuration: Histogram<'action'>;
  readonly alertsTotal: Counter<'outcome'>;
  readonly webhookRequests: Counter<'code'>;
  readonly storeFallback: Gauge<'store'>;
  readonly auditWritten: Counter;
  readonly auditDropped: Counter;
  readonly auditOutboxDepth: Gauge;
  /**
   * Pre-initialises a runbook's series to 0 the first time it is named, so that the first
   * remediation a runbook finishes is an increase that rate() and the chart's alerts see, not a
   * series that appears at 1. Called when a Runbook or a Remediation of it is seen.
   */
  readonly runbookSeen: (runbook: string) => void;
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  // Once per runbook: zero() on a histogram would wipe what it observed since.
  const seenRunbooks = new Set<string>();
  const m: Metrics = {
    registry,
    runbookSeen: (runbook) => {
      if (seenRunbooks.has(runbook)) return;
      seenRunbooks.add(runbook);
      m.remediationsStarted.inc({ runbook }, 0);
      for (const result of FINISH_RESULTS) m.remediationsFinished.inc({ runbook, result }, 0);
      for (const reason of RETENTION_REASONS) m.remediationsDeleted.inc({ runbook, reason }, 0);
      m.alertToFirstAction.zero({ runbook });
      m.alertToFinish.zero({ runbook });
      m.gitopsDrift.inc({ runbook }, 0);
    },
    reconcileTotal: new Counter({
      name: 'controller_runtime_reconcile_total',
      help: 'Total number of reconciliations per controller and result.',
      labelNames: ['controller', 'result'],
      registers,
    }),
    reconcileErrors: new Counter({
      name: 'controller_runtime_reconcile_errors_total',
      help: 'Total number of reconciliation errors per controller.',
      labelNames: ['controller'],
      registers,
    }),
    reconcileTime: new Histogram({
      name: 'controller_runtime_reconcile_time_seconds',
      help: 'Length of time per reconciliation per controller.',
      labelNames: ['controller'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60],
      registers,
    }),
    activeWorkers: new Gauge({
      name: 'controller_runtime_active_workers',
      help: 'Number of workers currently running a reconcile, per controller.',
      labelNames: ['controller'],
      registers,
    }),
    queueDepth: new Gauge({
      name: 'workqueue_depth',
      help: 'Current depth of the work queue.',
      labelNames: ['name'],
      registers,
    }),
    queueAdds: new Counter({
      name: 'workqueue_adds_total',
      help: 'Total adds handled by the work queue.',
      labelNames: ['name'],
      registers,
    }),
    queueDuration: new Histogram({
      name: 'workqueue_queue_duration_seconds',
      help: 'How long a key waits in the work queue, from being added until a worker takes it.',
      labelNames: ['name'],
      // controller-runtime's buckets since v0.17, 10 ns to 1000 s (client-go's stop at 10 s):
      // the top two catch a queue that falls minutes behind (a restart's backlog, a key added
      // during a long pass).
      buckets: exponentialBuckets(1e-8, 10, 12),
      registers,
    }),
    queueRetries: new Counter({
      name: 'workqueue_retries_total',
      help: 'Total retries handled by the work queue.',
      labelNames: ['name'],
      registers,
    }),
    leaderStatus: new Gauge({
      name: 'leader_election_master_status',
      help: '1 while this process holds the leader Lease (or runs without leader election), 0 otherwise.',
      labelNames: ['name'],
      registers,
    }),
    remediations: new Gauge({
      name: 'kube_remediator_remediations',
      help: 'Remediations known to the controller, by runbook and phase.',
      labelNames: ['runbook', 'phase'],
      registers,
    }),
    gitopsDrift: new Counter({
      name: 'kube_remediator_gitops_drift_total',
      help:
        'Changes of finished Remediations on GitOps-deployed targets that were put back by someone else ' +
        '(self-heal, a sync) while the Remediation held them applied, by runbook (one per step).',
      labelNames: ['runbook'],
      registers,
    }),
    remediationsStarted: new Counter({
      name: 'kube_remediator_remediations_started_total',
      help:
        'Remediations started (past approval and the concurrency budgets), by runbook. Counted by ' +
        'the leader when it records the start.',
      labelNames: ['runbook'],
      registers,
    }),
    remediationsFinished: new Counter({
      name: 'kube_remediator_remediations_finished_total',
      help:
        'Remediations that reached an end, by runbook and result: succeeded, failed, skipped, dry_run, ' +
        'blocked (loop protection), reverted, revert_failed. Counted by the leader when it records the end.',
      labelNames: ['runbook', 'result'],
      registers,
    }),
    remediationsDeleted: new Counter({
      name: 'kube_remediator_remediations_deleted_total',
      help:
        'Finished Remediations deleted by retention, by runbook and reason: ttl (ttlSecondsAfterFinished), ' +
        'successfulHistoryLimit, failedHistoryLimit. Their history stays in the audit log.',
      labelNames: ['runbook', 'reason'],
      registers,
    }),
    alertToFirstAction: new Histogram({
      name: 'kube_remediator_alert_to_first_action_seconds',
      help:
        "Time from the alert's startsAt to the start of the Remediation's first step, by runbook " +
        '(approval waits included). Remediations made by hand, without an alert, are not observed.',
      labelNames: ['runbook'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    alertToFinish: new Histogram({
      name: 'kube_remediator_alert_to_finish_seconds',
      help:
        "Time from the alert's startsAt to the Remediation's end (succeeded, failed, skipped, dry_run " +
        'or blocked; reverts later are not included), by runbook. Without an alert, not observed.',
      labelNames: ['runbook'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    actionsTotal: new Counter({
      name: 'kube_remediator_actions_total',
      help: 'Actions carried out, by action and result.',
      labelNames: ['action', 'result'],
      registers,
    }),
    actionDuration: new Histogram({
      name: 'kube_remediator_action_duration_seconds',
      help: 'How long one action attempt took.',
      labelNames: ['action'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    }),
    alertsTotal: new Counter({
      name: 'kube_remediator_alerts_total',
      help: 'Alerts received by the webhook, by outcome.',
      labelNames: ['outcome'],
      registers,
    }),
    webhookRequests: new Counter({
      name: 'kube_remediator_webhook_requests_total',
      help: 'Webhook requests by HTTP status code.',
      labelNames: ['code'],
      registers,
    }),
    storeFallback: new Gauge({
      name: 'kube_remediator_store_fallback',
      help: '1 while the named store is unreachable and the in-memory fallback serves instead.',
      labelNames: ['store'],
      registers,
    }),
    auditWritten: new Counter({
      name: 'kube_remediator_audit_rows_written_total',
      help: 'Audit rows written to PostgreSQL.',
      registers,
    }),
    auditDropped: new Counter({
      name: 'kube_remediator_audit_rows_dropped_total',
      help: 'Audit rows dropped because the outbox was full while PostgreSQL was down.',
      registers,
    }),
    auditOutboxDepth: new Gauge({
      name: 'kube_remediator_audit_outbox_depth',
      help: 'Audit rows waiting to be written.',
      registers,
    }),
  };

  for (const controller of CONTROLLERS) {
    for (const result of RECONCILE_RESULTS) m.reconcileTotal.inc({ controller, result }, 0);
    m.reconcileErrors.inc({ controller }, 0);
    m.activeWorkers.set({ controller }, 0);
    m.queueDepth.set({ name: controller }, 0);
    m.queueAdds.inc({ name: controller }, 0);
    m.queueDuration.zero({ name: controller });
    m.queueRetries.inc({ name: controller }, 0);
  }
  m.leaderStatus.set({ name: 'kube-remediator' }, 0);
  for (const action of ACTIONS)
    for (const result of ACTION_RESULTS) m.actionsTotal.inc({ action, result }, 0);
  for (const outcome of ALERT_OUTCOMES) m.alertsTotal.inc({ outcome }, 0);
  for (const store of STORES) m.storeFallback.set({ store }, 0);
  return m;
}
