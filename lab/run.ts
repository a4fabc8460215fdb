/**
 * `npm run lab -- <seed>`: plays one seed scenario on loopback and prints its timeline as it
 * goes: a control plane, the scenario's Redis/PostgreSQL/stand-ins, Prometheus, Alertmanager
 * and the operator bundle, the outage, each step, the resolve and the revert, the checks.
 * Everything it starts is stopped by pid at the end, also on Ctrl-C. `npm run lab` builds the
 * operator bundle first when an input changed (scripts/build-if-needed.sh).
 */
import { existsSync } from 'node:fs';
import { ensureControlPlane } from '../tools/cluster/build.js';
import type { Lab } from './harness/lab.js';
import { runScenario, scenarioName } from './harness/scenario.js';
import { SCENARIOS } from './scenarios/index.js';

const TOOLS = [
  '/usr/bin/prometheus',
  '/usr/bin/prometheus-alertmanager',
  '/usr/bin/prometheus-redis-exporter',
  '/usr/bin/prometheus-postgres-exporter',
  '/usr/bin/redis-server',
];

function usage(): string {
  const lines = SCENARIOS.map((s) => `  ${scenarioName(s).padEnd(36)} ${s.summary}`);
  return ['usage: npm run lab -- <seed>', '', 'seeds:', ...lines].join('\n');
}

/** What `npm test` installs once per machine; the control plane is built here if missing. */
async function prepare(): Promise<void> {
  const missing = TOOLS.filter((t) => !existsSync(t));
  if (missing.length)
    throw new Error(`${missing.join(', ')} missing: run \`npm test\` once, it installs them`);
  await ensureControlPlane().done;
}

async function main(): Promise<number> {
  const seed = process.argv[2];
  const scenario = SCENARIOS.find((s) => scenarioName(s) === seed);
  if (!scenario) {
    console.error(seed && seed !== '--help' ? `unknown seed "${seed}"\n\n${usage()}` : usage());
    return seed && seed !== '--help' ? 2 : 0;
  }
  await prepare();
  let current: Lab | undefined;
  let stopping = false;
  const interrupt = (): void => {
    // Ctrl-C can arrive twice (the terminal's process group, and relayed by tsx): a second
    // one must not kill the process in the middle of stopping what it started.
    if (stopping) return;
    stopping = true;
    console.error('\ninterrupted: stopping everything the lab started');
    void (current?.cleanup() ?? Promise.resolve([])).finally(() => process.exit(130));
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  console.log(`seed ${scenario.seed}: ${scenario.summary}\n`);
  try {
    const r = await runScenario(scenario, {
      echo: (line) => console.log(line),
      onLab: (lab) => (current = lab),
    });
    console.log(
      `\n${scenarioName(scenario)}: every check held, in ${(r.durationMs / 1000).toFixed(1)} s; all processes stopped`,
    );
    return 0;
  } catch (err) {
    console.error(`\n${scenarioName(scenario)} FAILED: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

void main().then((code) => process.exit(code));
