/**
 * The pure part of the intake: which Runbooks answer an alert, and for one Runbook and one
 * alert, either the Remediation to create (with the store keys that gate it) or the reason
 * it is refused. Nothing here talks to the API or a store, so it is tested as tables.
 */
import {
  API_VERSION,
  CONDITION_TYPES,
  LABELS,
  REASONS,
  RESOURCES,
  type AlertInfo,
  type Remediation,
  type Runbook,
} from '../api/v1alpha1/index.js';
import { matchTriggers } from '../runbook/match.js';
import { isRenderFailure, renderSteps } from '../runbook/render.js';
import { runbookScope } from '../runbook/scope.js';
import { targetKey } from '../runbook/target.js';
import type { ClaimResult } from '../stores/types.js';
import { type ErrorCode } from '../util/errors.js';
import { parseDuration } from '../util/duration.js';
import { labelValue, remediationName } from './naming.js';
import type { WebhookAlert } from './payload.js';

export const MANAGED_BY = 'kube-remediator';
export const RATE_WINDOW_MS = 3_600_000;
// Limits of AlertInfo in the CRD schema: the copy kept in spec.alert is clipped to fit, so an
// over-long annotation never turns into a 422 (which would drop the alert).
const MAX_ALERTNAME = 256;
const MAX_MAP_KEY = 4096;
const MAX_MAP_VALUE = 8192;
const MAX_URL = 2048;

export type Suppression = 'suppressed_invalid_param' | 'suppressed_out_of_scope';

export type RunbookPlan =
  | { kind: 'refuse'; outcome: Suppression; code: ErrorCode; reason: string }
  | {
      kind: 'create';
      name: string;
      remediation: Remediation;
      /** Cooldown claim per runbook + target, owned by the Remediation name. */
      cooldown?: { key: string; ttlMs: number };
      /** Fixed-window counter per runbook. */
      rate?: { key: string; limit: number; windowMs: number };
    };

export function runbookKey(rb: Runbook): string {
  return `${rb.metadata.namespace ?? ''}/${rb.metadata.name ?? ''}`;
}

/** Ready=True and not suspended: the controller accepted it and it answers alerts. */
export function isActive(rb: Runbook): boolean {
  if (rb.spec.suspend) return false;
  const ready = rb.status?.conditions?.find((c) => c.type === CONDITION_TYPES.ready);
  return ready?.status === 'True';
}

/**
 * Runbooks whose triggers match the labels. Firing alerts need an active Runbook; resolved
 * ones match any Runbook, so that suspending a Runbook does not stop its reverts. A Runbook
 * whose regex does not compile matches nothing (Runbook validation reports it).
 */
export function matchingRunbooks(runbooks: Iterable<Runbook>, alert: WebhookAlert): Runbook[] {
  const out: Runbook[] = [];
  for (const rb of runbooks) {
    if (alert.status === 'firing' && !isActive(rb)) continue;
    try {
      if (matchTriggers(rb.spec.triggers, alert.labels)) out.push(rb);
    } catch {
      continue;
    }
  }
  return out;
}

/** The deterministic Remediation name of this runbook and alert occurrence. */
export function nameFor(rb: Runbook, alert: Pick<WebhookAlert, 'fingerprint' | 'startsAt'>): string {
  return remediationName(
    rb.metadata.namespace ?? '',
    rb.metadata.name ?? '',
    alert.fingerprint,
    alert.startsAt,
  );
}

function clip(text: string, max: number): string {
  return text.length > max ? text.slice(0, max) : text;
}

function clipMap(m: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!m) return undefined;
  return Object.fromEntries(
    Object.entries(m).map(([k, v]) => [clip(k, MAX_MAP_KEY), clip(v, MAX_MAP_VALUE)]),
  );
}

export function alertInfo(alert: WebhookAlert): AlertInfo {
  const info: AlertInfo = {
    name: clip(alert.labels.alertname ?? '', MAX_ALERTNAME),
    fingerprint: alert.fingerprint,
    startsAt: alert.startsAt,
    status: alert.status,
    labels: clipMap(alert.labels),
    annotations: clipMap(alert.annotations ?? {}),
  };
  if (alert.generatorURL && alert.generatorURL.length <= MAX_URL) info.generatorURL = alert.generatorURL;
  return info;
}

const refuse = (outcome: Suppression, code: ErrorCode, reason: string): RunbookPlan => ({
  kind: 'refuse',
  outcome,
  code,
  reason,
});

/**
 * Decides what one Runbook does with one firing alert. Every template of the Runbook is
 * rendered now (the main target, each step's target and parameters), so that a label value
 * that would be refused later (`../x`, upper case, `;`, newlines, over-long) is refused here,
 * before anything is sent to the API server, and recorded with its reason.
 */
export function planRunbook(rb: Runbook, alert: WebhookAlert): RunbookPlan {
  const namespace = rb.metadata.namespace ?? '';
  const r = renderSteps(
    {
      namespace,
      params: rb.spec.params,
      steps: rb.spec.steps,
      target: rb.spec.target,
      scope: runbookScope(namespace, rb.spec.safety),
    },
    alert,
  );
  if (isRenderFailure(r)) {
    const outcome = r.reason === REASONS.outOfScope ? 'suppressed_out_of_scope' : 'suppressed_invalid_param';
    return refuse(outcome, r.code, r.message);
  }
  const { values, main: target } = r;

  const name = nameFor(rb, alert);
  const remediation: Remediation = {
    apiVersion: API_VERSION,
    kind: RESOURCES.remediation.kind,
    metadata: {
      name,
      namespace,
      labels: {
        [LABELS.runbook]: labelValue(rb.metadata.name ?? ''),
        [LABELS.alertname]: labelValue(alert.labels.alertname ?? ''),
        [LABELS.fingerprint]: labelValue(alert.fingerprint),
        [LABELS.managedBy]: MANAGED_BY,
      },
    },
    spec: {
      runbookRef: { name: rb.metadata.name ?? '' },
      params: values,
      ...(target ? { target } : {}),
      alert: alertInfo(alert),
    },
  };

  const plan: RunbookPlan = { kind: 'create', name, remediation };
  const safety = rb.spec.safety;
  if (safety?.cooldown) {
    const t = target ? targetKey(target) : '-';
    plan.cooldown = { key: `cooldown:${runbookKey(rb)}:${t}`, ttlMs: parseDuration(safety.cooldown) };
  }
  if (safety?.maxPerHour) {
    plan.rate = { key: `rate:${runbookKey(rb)}`, limit: safety.maxPerHour, windowMs: RATE_WINDOW_MS };
  }
  return plan;
}

/** Why the limit store turns a planned Remediation away: the cooldown or the rate window. */
export interface AdmissionRefusal {
  outcome: 'suppressed_cooldown' | 'suppressed_rate_limit';
  reason: string;
}

/**
 * The cooldown claim is held by another occurrence (a claim held by this very name is a
 * repeated notification: the create will tell). Used by the intake and `kube-remediator test`.
 */
export function cooldownRefusal(
  rb: Runbook,
  plan: Extract<RunbookPlan, { kind: 'create' }>,
  claim: ClaimResult | undefined,
): AdmissionRefusal | undefined {
  if (!claim || claim.acquired || claim.owner === plan.name) return undefined;
  return {
    outcome: 'suppressed_cooldown',
    reason: `cooldown of ${rb.spec.safety?.cooldown} for this runbook and target: remediation ${claim.owner} started it`,
  };
}

/** The rate window's count, this alert included, is over `safety.maxPerHour`. */
export function rateRefusal(
  plan: Extract<RunbookPlan, { kind: 'create' }>,
  count: number | undefined,
): AdmissionRefusal | undefined {
  if (!plan.rate || count === undefined || count <= plan.rate.limit) return undefined;
  return {
    outcome: 'suppressed_rate_limit',
    reason: `rate limit of ${plan.rate.limit} remediations per hour reached for this runbook`,
  };
}
