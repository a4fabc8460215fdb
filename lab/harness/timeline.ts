/**
 * The scenario's timeline: what happened, in order, with the time since the lab started. It is
 * what `npm run lab` prints as it goes, and what a failing e2e test shows to explain itself.
 */

/** Where an entry comes from; the column the printed timeline shows. */
export const SOURCES = {
  lab: 'lab',
  fault: 'fault',
  heal: 'heal',
  person: 'person',
  alert: 'alert',
  webhook: 'webhook',
  remediation: 'remediation',
  step: 'step',
  revert: 'revert',
  app: 'app',
  check: 'check',
} as const;
export type Source = (typeof SOURCES)[keyof typeof SOURCES];

export interface Entry {
  /** Milliseconds since the timeline started. */
  at: number;
  source: Source;
  text: string;
}

const SOURCE_WIDTH = Math.max(...Object.values(SOURCES).map((s) => s.length));

export function formatEntry(e: Entry): string {
  const secs = `+${(e.at / 1000).toFixed(1)}s`.padStart(7);
  return `${secs}  ${e.source.padEnd(SOURCE_WIDTH)}  ${e.text}`;
}

export class Timeline {
  readonly entries: Entry[] = [];
  private readonly t0 = Date.now();

  /** `echo` gets each line as it is added (the lab command prints them live). */
  constructor(private readonly echo?: (line: string) => void) {}

  /** Milliseconds since the start. */
  now(): number {
    return Date.now() - this.t0;
  }

  add(source: Source, text: string): Entry {
    const e = { at: this.now(), source, text };
    this.entries.push(e);
    this.echo?.(formatEntry(e));
    return e;
  }

  /** The first entry of `source` whose text matches, if any. */
  find(source: Source, text: RegExp): Entry | undefined {
    return this.entries.find((e) => e.source === source && text.test(e.text));
  }

  render(): string {
    return this.entries.map(formatEntry).join('\n');
  }
}
