/**
 * Where a storm's time goes: when each Remediation was first seen in each phase (from a watch,
 * so the bench's own clock, not the second-precision timestamps of the status), and from that
 * how long they waited before running, how long they ran, and how many ran at once.
 */
import { summarize, type Summary } from './stats.js';

export class PhaseTimeline {
  private readonly seen = new Map<string, Map<string, number>>();

  /** The first time `name` was seen in `phase` (later sightings keep the first). */
  record(name: string, phase: string, at: number): void {
    let phases = this.seen.get(name);
    if (!phases) this.seen.set(name, (phases = new Map()));
    if (!phases.has(phase)) phases.set(phase, at);
  }

  /** name → phase → first seen (performance.now()). */
  snapshot(): ReadonlyMap<string, ReadonlyMap<string, number>> {
    return this.seen;
  }
}

export interface Spans {
  /** From `from` (or the window's start) until the first of `start` phases. */
  waited: Summary;
  /** From the first of `start` phases until the first of `end` phases. */
  ran: Summary;
  /** Mean and most Remediations in a `start`..`end` span at once, over the window. */
  meanConcurrent: number;
  maxConcurrent: number;
  /** How many reached an `end` phase without a `start` phase seen (counted as running 0 ms). */
  direct: number;
}

/**
 * Spans of each Remediation that reached one of `end`: waited (window start, or its first
 * phase seen when that is later, until the first `start` phase) and ran (until the first `end`).
 * One that went to `end` without a `start` phase (a revert with nothing to send, ADR 0028, is
 * written Reverted at once) waited until its end and ran 0 ms.
 */
export function spans(
  seen: ReadonlyMap<string, ReadonlyMap<string, number>>,
  window: { from: number; to: number },
  start: readonly string[],
  end: readonly string[],
): Spans {
  const firstOf = (phases: ReadonlyMap<string, number>, names: readonly string[]): number | undefined => {
    const ts = names
      .map((n) => phases.get(n))
      .filter((t): t is number => t !== undefined && t >= window.from);
    return ts.length ? Math.min(...ts) : undefined;
  };
  const waited: number[] = [];
  const ran: number[] = [];
  const edges: [number, number][] = [];
  let direct = 0;
  for (const phases of seen.values()) {
    const e = firstOf(phases, end);
    if (e === undefined) continue;
    let s = firstOf(phases, start);
    if (s === undefined) {
      s = e;
      direct++;
    }
    if (e < s) continue;
    const appeared = Math.max(window.from, Math.min(...phases.values()));
    waited.push(s - appeared);
    ran.push(e - s);
    edges.push([s, 1], [e, -1]);
  }
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let max = 0;
  for (const [, d] of edges) max = Math.max(max, (now += d));
  const length = window.to - window.from;
  return {
    waited: summarize(waited),
    ran: summarize(ran),
    meanConcurrent: length > 0 ? ran.reduce((a, b) => a + b, 0) / length : 0,
    maxConcurrent: max,
    direct,
  };
}

/** `p50 / p90 / max` in ms or s, for the table. */
export function spanText(s: Summary): string {
  const f = (ms: number): string => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`);
  return s.n ? `${f(s.p50)} / ${f(s.p90)} / ${f(s.max)}` : 'none';
}
