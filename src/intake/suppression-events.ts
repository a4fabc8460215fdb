/**
 * Kubernetes Events for suppressed alerts, on the Runbook. Alertmanager re-sends a group on
 * every group_interval, so the same refusal would otherwise write a new Event each time; one
 * Event per runbook, alert occurrence and reason per window is enough for people to see it.
 */
import { API_VERSION, EVENT_REASONS, RESOURCES, type Runbook } from '../api/v1alpha1/index.js';
import type { EventRecorder } from '../observability/events.js';
import type { Clock } from '../util/clock.js';

const WINDOW_MS = 10 * 60_000;
const MAX_REMEMBERED = 10_000;

export class SuppressionEvents {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly events: EventRecorder,
    private readonly clock: Clock,
  ) {}

  record(rb: Runbook, occurrence: string, outcome: string, message: string): void {
    const now = this.clock.now().getTime();
    const key = `${rb.metadata.namespace}/${rb.metadata.name}/${occurrence}/${outcome}`;
    const last = this.seen.get(key);
    if (last !== undefined && now - last < WINDOW_MS) return;
    if (this.seen.size >= MAX_REMEMBERED) this.prune(now);
    this.seen.set(key, now);
    const warning = outcome === 'suppressed_invalid_param' || outcome === 'suppressed_out_of_scope';
    this.events.event(
      {
        apiVersion: API_VERSION,
        kind: RESOURCES.runbook.kind,
        namespace: rb.metadata.namespace ?? '',
        name: rb.metadata.name ?? '',
        uid: rb.metadata.uid,
      },
      warning ? 'Warning' : 'Normal',
      EVENT_REASONS.alertSuppressed,
      message,
    );
  }

  private prune(now: number): void {
    for (const [k, t] of this.seen) if (now - t >= WINDOW_MS) this.seen.delete(k);
    // Still full: forget the oldest half rather than grow without bound.
    if (this.seen.size >= MAX_REMEMBERED) {
      let drop = Math.floor(this.seen.size / 2);
      for (const k of this.seen.keys()) {
        if (drop-- <= 0) break;
        this.seen.delete(k);
      }
    }
  }

  flush(): Promise<void> {
    return this.events.flush();
  }
}
