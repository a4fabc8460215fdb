/**
 * `npm run bench:runbook-test`: cases per second through `kube-remediator test`'s engine, in
 * process (loading the files, then every case: matching, rendering, the intake's admission from
 * a replayed history, the decision protocol pass after pass, each step's plan() and the
 * Kubernetes steps' apply() on the in-memory objects). The cases are the shipped examples of
 * config/samples/tests, repeated. A benchmark, not a test: it prints figures, never fails.
 *
 * Flags: --cases N (default 1000), --rounds N (default 3; the best and median are printed).
 */
import { readdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runTestFile } from '../src/simulate/run-tests.js';
import { loadTestFile, type LoadedTestFile } from '../src/simulate/test-file.js';
import { REPO_ROOT } from '../tools/cluster/crds.js';

const { values } = parseArgs({
  options: { cases: { type: 'string', default: '1000' }, rounds: { type: 'string', default: '3' } },
});
const want = Number(values.cases);
const rounds = Number(values.rounds);

const dir = join(REPO_ROOT, 'config', 'samples', 'tests');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.test.yaml'))
  .map((f) => loadTestFile(join(dir, f)));
const perRound = files.reduce((n, f) => n + f.spec.cases.length, 0);

/** The files with their cases repeated until `want` cases in all. */
function scaled(): LoadedTestFile[] {
  const times = Math.max(1, Math.ceil(want / perRound));
  return files.map((f) => ({
    ...f,
    spec: { ...f.spec, cases: Array.from({ length: times }, () => f.spec.cases).flat() },
  }));
}

const load = performance.now();
for (const f of readdirSync(dir).filter((x) => x.endsWith('.test.yaml'))) loadTestFile(join(dir, f));
const loadMs = performance.now() - load;

const rates: number[] = [];
// CPU time too: on a shared machine the wall clock measures the neighbours as much as us.
const cpuRates: number[] = [];
let failed = 0;
let total = 0;
for (let r = 0; r < rounds; r++) {
  const work = scaled();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  total = 0;
  for (const f of work) {
    const report = await runTestFile(f);
    total += report.cases.length;
    failed += report.cases.filter((c) => !c.passed).length;
  }
  rates.push(total / ((performance.now() - t0) / 1000));
  const cpu = process.cpuUsage(c0);
  cpuRates.push(total / ((cpu.user + cpu.system) / 1e6));
}
rates.sort((a, b) => a - b);
cpuRates.sort((a, b) => a - b);
console.log(
  `kube-remediator test engine: ${total} cases per round (${perRound} distinct, from ${files.length} files)`,
);
console.log(`  loading the ${files.length} files: ${loadMs.toFixed(1)} ms`);
console.log(
  `  cases/s: best ${rates[rates.length - 1]!.toFixed(0)}, median ${rates[Math.floor(rates.length / 2)]!.toFixed(0)} (${rounds} rounds)`,
);
console.log(
  `  cases per CPU second: best ${cpuRates[cpuRates.length - 1]!.toFixed(0)}, median ${cpuRates[Math.floor(cpuRates.length / 2)]!.toFixed(0)}`,
);
console.log(
  `  load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')} on ${cpus().length} cores`,
);
if (failed) console.log(`  (${failed} case runs failed: the examples should pass)`);
