/**
 * Kubernetes Events (core/v1, which every supported server serves) for Remediations, Runbooks
 * and targets. Recording an Event never fails the caller: a lost Event is logged, not thrown.
 */
import type { CoreV1Api } from '@kubernetes/client-node';
import type { Logger } from './logger.js';
import { rfc3339 } from '../util/clock.js';
import { apiErrorMessage } from '../kube/client.js';

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid?: string;
}

export interface EventRecorder {
  event(obj: ObjectRef, type: 'Normal' | 'Warning', reason: string, message: string): void;
  /** Resolves when every Event sent so far has been written (for tests and shutdown). */
  flush(): Promise<void>;
}

/**
 * Events wait this long before they are sent, together. They describe what the operator did;
 * sent at once they would compete for the API server with the action they describe (a step's
 * "started" Event lands right between its checkpoint and its apply), and on a small control
 * plane that shows up in how soon the action takes effect.
 */
export const EVENT_SEND_DELAY_MS = 100;

interface QueuedEvent {
  obj: ObjectRef;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  at: Date;
}

export class KubeEventRecorder implements EventRecorder {
  private pending = new Set<Promise<void>>();
  private queued: QueuedEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** After flush() (shutdown), Events are sent at once: nothing may wait on a timer the exit cuts. */
  private flushed = false;
  constructor(
    private readonly core: CoreV1Api,
    private readonly log: Logger,
    private readonly component = 'kube-remediator',
    private readonly delayMs = EVENT_SEND_DELAY_MS,
  ) {}

  event(obj: ObjectRef, type: 'Normal' | 'Warning', reason: string, message: string): void {
    // The timestamps are when it happened, not when it was sent.
    this.queued.push({ obj, type, reason, message, at: new Date() });
    if (this.delayMs <= 0 || this.flushed) this.sendQueued();
    else this.timer ??= setTimeout(() => this.sendQueued(), this.delayMs);
  }

  async flush(): Promise<void> {
    this.flushed = true;
    this.sendQueued();
    await Promise.all([...this.pending]);
  }

  private sendQueued(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const e of this.queued.splice(0)) this.send(e);
  }

  private send({ obj, type, reason, message, at }: QueuedEvent): void {
    const p = this.core
      .createNamespacedEvent({
        namespace: obj.namespace,
        body: {
          metadata: { generateName: `${obj.name}.`, namespace: obj.namespace },
          involvedObject: {
            apiVersion: obj.apiVersion,
            kind: obj.kind,
            namespace: obj.namespace,
            name: obj.name,
            uid: obj.uid,
          },
          type,
          reason,
          message: message.slice(0, 1024),
          source: { component: this.component },
          reportingComponent: this.component,
          reportingInstance: this.component,
          firstTimestamp: rfc3339(at) as unknown as Date,
          lastTimestamp: rfc3339(at) as unknown as Date,
          count: 1,
        },
      })
      .then(
        () => undefined,
        (err: unknown) => {
          this.log.warn('event not recorded', {
            reason,
            object: `${obj.kind}/${obj.namespace}/${obj.name}`,
            error: apiErrorMessage(err),
          });
        },
      );
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }
}

/** Keeps Events in memory; for unit tests of code that records Events. */
export class MemoryEventRecorder implements EventRecorder {
  readonly events: { obj: ObjectRef; type: string; reason: string; message: string }[] = [];
  event(obj: ObjectRef, type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.events.push({ obj, type, reason, message });
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
}
