/**
 * The V8 flags the operator is run with: the Dockerfile's ENTRYPOINT, the chart's `command`,
 * `npm start` and the tests and benchmarks that start the operator process all use these
 * (test/unit/cli/node-flags.test.ts keeps them in step).
 *
 * `--max-semi-space-size=1` caps V8's young generation at 1 MB per semi-space instead of up to
 * 16 MB. The operator's allocations are short-lived and small (a reconcile pass, a watch event),
 * so the cap costs more frequent but shorter scavenges, and saves about 40 MB of resident memory:
 * with 10,000 Remediations cached, 179 MB became 141 MB on the benchmark's control plane
 * (docs/benchmarks.md).
 */
export const OPERATOR_NODE_FLAGS = ['--max-semi-space-size=1'] as const;
