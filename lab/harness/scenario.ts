/**
 * A seed scenario and how one runs: a fresh lab, the scenario's play (system, pipeline, fault,
 * assertions, heal), and a cleanup of every process by pid whatever happened.
 */
import type { Remediation, StepStatus } from '../../src/api/v1alpha1/index.js';
import { Lab } from './lab.js';
import type { Entry } from './timeline.js';

export interface Scenario {
  /** The seed runbook's file name in the seeds folder, without `.md`; also the sample's name. */
  seed: string;
  /** For a seed with more than one scenario (one lab each): `<seed>-<case>`; else the seed. */
  name?: string;
  /** One line for the README table and the lab's help. */
  summary: string;
  /** Builds the seed's system, starts the alert pipeline, plays the outage and asserts. */
  play(lab: Lab): Promise<void>;
}

/** What `npm run lab -- <name>` and the e2e test call a scenario. */
export function scenarioName(s: Scenario): string {
  return s.name ?? s.seed;
}

export interface ScenarioResult {
  seed: string;
  durationMs: number;
  entries: Entry[];
  timeline: string;
}

export async function runScenario(
  scenario: Scenario,
  opts: { echo?: (line: string) => void; onLab?: (lab: Lab) => void } = {},
): Promise<ScenarioResult> {
  const lab = new Lab(opts.echo);
  opts.onLab?.(lab);
  const started = Date.now();
  let failure: unknown;
  try {
    await scenario.play(lab);
    lab.timeline.add('lab', `scenario ${scenarioName(scenario)} done; cleaning up`);
  } catch (err) {
    failure = err;
  }
  const leftovers = await lab.cleanup();
  const result = {
    seed: scenario.seed,
    durationMs: Date.now() - started,
    entries: lab.timeline.entries,
    timeline: lab.timeline.render(),
  };
  // Not `instanceof Error`: node:assert's errors come from another realm under Jest.
  if (failure !== undefined) {
    const err =
      typeof (failure as { message?: unknown }).message === 'string'
        ? (failure as Error)
        : new Error(JSON.stringify(failure));
    if (!err.message.includes('--- timeline ---')) err.message += `\n--- timeline ---\n${result.timeline}`;
    throw err;
  }
  if (leftovers.length) throw new Error(`cleanup failed: ${leftovers.join('; ')}`);
  return result;
}

/**
 * The stamp of a step's first attempt, `<remediation uid>/<step index>/1`: what an httpCall or
 * notify sends as its Idempotency-Key.
 */
export function stampOf(rem: Remediation, step: string): string {
  const index = (rem.status?.steps ?? []).findIndex((s) => s.name === step);
  if (index < 0) throw new Error(`${rem.metadata.name} has no step ${step}`);
  return `${rem.metadata.uid}/${index}/1`;
}

/** A Remediation's step records by step name. */
export function stepsOf(rem: Remediation): Record<string, StepStatus | undefined> {
  return Object.fromEntries((rem.status?.steps ?? []).map((s) => [s.name, s]));
}
