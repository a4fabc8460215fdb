/** Time as a dependency, so decisions are testable with a fake clock. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export class FakeClock implements Clock {
  constructor(private t: Date = new Date('2026-01-01T00:00:00Z')) {}
  now(): Date {
    return new Date(this.t);
  }
  advance(ms: number): void {
    this.t = new Date(this.t.getTime() + ms);
  }
  set(t: Date): void {
    this.t = new Date(t);
  }
}

/**
 * RFC 3339 with millisecond precision (Kubernetes' metav1.MicroTime, in ms): for the times that
 * order runs which finish within one second of each other (status.completedAt).
 */
export function rfc3339Milli(d: Date): string {
  return d.toISOString();
}

/** RFC 3339 with second precision, as Kubernetes writes metav1.Time. */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
