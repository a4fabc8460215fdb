/**
 * `npm run bench:retention-month`: 100,000 alert occurrences over a simulated month through the
 * real retention rules (bench/lib/retention-month.ts), at the controller-wide defaults. Prints
 * the most Remediations the cluster held at once, what is left at the end, and the bound the
 * rules promise. A benchmark: it prints figures and never fails on a threshold.
 *
 * Flags: --occurrences N (100000), --days N (30), --runbooks N (5), --targets N (per Runbook, 20).
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { MONTH_DEFAULTS, simulateMonth } from './lib/retention-month.js';

const { values } = parseArgs({
  options: {
    occurrences: { type: 'string', default: String(MONTH_DEFAULTS.occurrences) },
    days: { type: 'string', default: String(MONTH_DEFAULTS.days) },
    runbooks: { type: 'string', default: String(MONTH_DEFAULTS.runbooks) },
    targets: { type: 'string', default: String(MONTH_DEFAULTS.targetsPerRunbook) },
  },
});
const opts = {
  ...MONTH_DEFAULTS,
  occurrences: Number(values.occurrences),
  days: Number(values.days),
  runbooks: Number(values.runbooks),
  targetsPerRunbook: Number(values.targets),
};
const started = performance.now();
const r = simulateMonth(opts);
const l = opts.limits;
console.log(
  [
    `retention over a simulated month: ${r.created} occurrences, ${opts.days} days, ${opts.runbooks} Runbooks x ${opts.targetsPerRunbook} targets`,
    `  limits (defaults): successfulHistoryLimit ${l.successfulHistoryLimit}, failedHistoryLimit ${l.failedHistoryLimit}, ttlSecondsAfterFinished ${l.ttlSecondsAfterFinished}, maxConsecutiveFailures 3`,
    `  deleted ${r.deleted}; most in the cluster at once ${r.peak}; at the end ${r.final} (${Object.entries(
      r.byPhaseAtEnd,
    )
      .map(([p, n]) => `${p} ${n}`)
      .join(', ')})`,
    `  bound: ${opts.runbooks} x (${l.successfulHistoryLimit} + ${l.failedHistoryLimit}) history + ${opts.runbooks * opts.targetsPerRunbook} targets x 3 loop-protection evidence + ${r.peakRunning} in flight = ${r.bound}`,
    `  simulated in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  ].join('\n'),
);
