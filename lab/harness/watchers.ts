/**
 * Pollers that turn what the real parts do into timeline entries: Prometheus's alert states,
 * the operator's webhook outcomes (its log lines and its alerts_total counter), and each
 * Remediation's phase and step records. Polling, not watching: a quarter second is plenty for
 * a timeline, and a poll cannot miss a relist.
 */
import type { Remediation, StepStatus } from '../../src/api/v1alpha1/index.js';
import type { KubeClients } from '../../src/kube/client.js';
import { remediations } from '../../src/kube/resources.js';
import type { OperatorProcess } from '../../test/support/operator.js';
import type { Timeline } from './timeline.js';

const POLL_MS = 250;

export interface Poller {
  /** Polls once now (after the poll under way, never beside it), e.g. before a check. */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

function poll(fn: () => Promise<void>): Poller {
  let stopped = false;
  // One poll at a time: two at once would both see the same change and record it twice.
  let last: Promise<void> = Promise.resolve();
  const once = (): Promise<void> => (last = last.then(() => fn().catch(() => undefined)));
  const loop = (async () => {
    while (!stopped) {
      await once();
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  })();
  return {
    flush: once,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

interface PromAlert {
  labels: Record<string, string>;
  state: string;
}

/** Labels that say where things are, not what happened: left out of the timeline. */
const isAddressLabel = (name: string): boolean =>
  /_(host|port)$/.test(name) || ['instance', 'job'].includes(name);

function describeAlert(labels: Record<string, string>): string {
  const shown = Object.entries(labels)
    .filter(([k]) => k !== 'alertname' && !isAddressLabel(k))
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  return `${labels.alertname ?? '?'} {${shown}}`;
}

/** Pending, firing and resolved transitions of every alert of the lab's Prometheus. */
export function watchAlerts(prometheusUrl: string, timeline: Timeline): Poller {
  const states = new Map<string, string>();
  return poll(async () => {
    const res = await fetch(`${prometheusUrl}/api/v1/alerts`);
    const body = (await res.json()) as { data: { alerts: PromAlert[] } };
    const now = new Map(body.data.alerts.map((a) => [JSON.stringify(a.labels), a]));
    for (const [key, a] of now) {
      if (states.get(key) === a.state) continue;
      states.set(key, a.state);
      timeline.add('alert', `${describeAlert(a.labels)} ${a.state} in Prometheus`);
    }
    for (const key of [...states.keys()]) {
      if (now.has(key)) continue;
      states.delete(key);
      timeline.add(
        'alert',
        `${describeAlert(JSON.parse(key) as Record<string, string>)} resolved in Prometheus`,
      );
    }
  });
}

interface LogLine {
  message?: string;
  runbook?: string;
  remediation?: string;
  /** A resolved notification marks every live Remediation of its fingerprint. */
  remediations?: string[];
  alertname?: string;
  outcome?: string;
  reason?: string;
}

/**
 * The operator's answers to Alertmanager: created, suppressed and resolved from its log lines
 * (which name the Remediation or the reason), duplicates and unmatched alerts from its
 * `kube_remediator_alerts_total` counter (they are not logged).
 */
export function watchWebhook(op: OperatorProcess, metricsUrl: string, timeline: Timeline): Poller {
  let read = 0;
  const counted = new Map<string, number>();
  const fromCounter = ['duplicate', 'unmatched', 'resolved_unknown'];
  return poll(async () => {
    const lines = op.logs();
    for (; read < lines.length; read++) {
      let l: LogLine;
      try {
        l = JSON.parse(lines[read]!) as LogLine;
      } catch {
        continue;
      }
      if (l.message === 'remediation created')
        timeline.add('webhook', `Alertmanager's notification → created Remediation ${l.remediation}`);
      else if (l.message === 'alert suppressed')
        timeline.add('webhook', `${l.alertname} → ${l.outcome} (runbook ${l.runbook}): ${l.reason}`);
      else if (l.message === 'remediation marked for revert')
        timeline.add(
          'webhook',
          `resolved notification → ${(l.remediations ?? [l.remediation]).join(', ')} marked for revert`,
        );
    }
    const text = await (await fetch(`${metricsUrl}/metrics`)).text();
    for (const outcome of fromCounter) {
      const m = new RegExp(`kube_remediator_alerts_total\\{outcome="${outcome}"\\} (\\d+)`).exec(text);
      const n = m ? Number(m[1]) : 0;
      const before = counted.get(outcome) ?? 0;
      if (n > before) timeline.add('webhook', `${n - before} alert(s) → ${outcome}`);
      counted.set(outcome, n);
    }
  });
}

function stepLine(s: StepStatus): string {
  const msg = s.message ? `: ${s.message}` : '';
  return `${s.name} (${s.action}) ${s.phase}${msg}`;
}

/** Every Remediation's phase, approval and step records, as they change. */
export function watchRemediations(clients: KubeClients, namespace: string, timeline: Timeline): Poller {
  const seen = new Map<string, string>();
  const changed = (key: string, value: string): boolean => {
    if (seen.get(key) === value) return false;
    seen.set(key, value);
    return true;
  };
  const one = (r: Remediation): void => {
    const name = r.metadata.name!;
    const st = r.status ?? {};
    if (st.phase && changed(`${name}/phase`, st.phase))
      timeline.add('remediation', `${name} ${st.phase}${st.message ? `: ${st.message}` : ''}`);
    if (st.approval && changed(`${name}/approval`, st.approval.by))
      timeline.add('remediation', `${name} approved by ${st.approval.by}`);
    for (const s of st.steps ?? []) {
      // A running step rewrites its message as it waits (a rollout's progress): once is enough.
      const state = s.phase === 'Running' ? s.phase : `${s.phase}/${s.message ?? ''}`;
      if (s.phase === 'Pending' || !changed(`${name}/${s.name}`, state)) continue;
      const reverting = s.phase === 'Reverting' || s.phase === 'Reverted';
      timeline.add(reverting ? 'revert' : 'step', stepLine(s));
    }
  };
  return poll(async () => {
    for (const r of (await remediations(clients).list(namespace)).items) one(r);
  });
}
