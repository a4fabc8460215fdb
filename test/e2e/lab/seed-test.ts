/**
 * One e2e test per seed scenario: the scenario (lab/scenarios/<seed>.ts) builds the seed's
 * system in a control plane of its own, plays the outage through the real Prometheus →
 * Alertmanager → operator path and asserts as it goes; this runs it and reports its time.
 */
import { expect, it } from '@jest/globals';
import { runScenario, scenarioName, type Scenario } from '../../../lab/harness/scenario.js';

/** A scenario's whole run, as a bound for a stuck one; the states inside it wait far less. */
const SCENARIO_TIMEOUT_MS = 600_000;

export function seedTest(scenario: Scenario): void {
  it(
    `${scenarioName(scenario)}: ${scenario.summary}`,
    async () => {
      const r = await runScenario(scenario);
      const checks = r.entries.filter((e) => e.source === 'check');
      expect(checks.length).toBeGreaterThan(0);
      expect(checks.filter((e) => !e.text.startsWith('✓'))).toEqual([]);
      console.log(
        `[lab] ${scenarioName(scenario)} took ${(r.durationMs / 1000).toFixed(1)} s\n${r.timeline}`,
      );
    },
    SCENARIO_TIMEOUT_MS,
  );
}
