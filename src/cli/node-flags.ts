/**
 * How the operator process is started. The V8 flags it is run with: the Dockerfile's ENTRYPOINT, the chart's `command`,
 * `npm start` and the tests and benchmarks that start the operator process all use these
 * (test/unit/cli/node-flags.test.ts keeps them in step).
 *
 * `--max-semi-space-size=1` caps V8's young generation at 1 MB per semi-space instead of up to
 * 16 MB. The operator's allocations are short-lived and small (a reconcile pass, a watch event),
 * so the cap costs more frequent but shorter scavenges, and saves about 40 MB of resident memory:
 * with 10,000 Remediations cached, 179 MB became 141 MB on the benchmark's control plane
 * (docs/benchmarks.md).
 *
 * `--expose-gc` lets the manager ask for one memory-reducing collection after a burst of work
 * (a large first sync, a restart's reconciles) has settled (src/runtime/heap-compactor.ts,
 * ADR 9): the burst's garbage otherwise stays until allocation triggers a major GC, which in a
 * quiet operator can take hours.
 */
export const OPERATOR_NODE_FLAGS = ['--max-semi-space-size=1', '--expose-gc'] as const;

/**
 * The file they run, relative to the repository (or the image's /app): the esbuild bundle of
 * src/cli/index.ts that `npm run build` writes (scripts/bundle.mjs, ADR 9).
 */
export const OPERATOR_BUNDLE = 'dist/bin/kube-remediator.js';
