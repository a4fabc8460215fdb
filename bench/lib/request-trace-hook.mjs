// Loaded into the operator for diagnosis:
//   BENCH_OPERATOR_NODE_OPTIONS="--import $PWD/bench/lib/request-trace-hook.mjs" \
//   BENCH_SAMPLES_FILE=/tmp/samples.jsonl npm run bench:controller -- ...
// records every HTTPS request the operator sends (method, path, wall-clock start, response
// headers, end) and the event loop's delay, and writes them as JSON lines to
// $REQUEST_TRACE_DIR/requests-<pid>.jsonl (default /tmp) on SIGTERM. Times are
// performance.timeOrigin + performance.now() (ms since the epoch, sub-ms), so they line up with
// the bench's own samples (BENCH_SAMPLES_FILE); `npx tsx bench/lib/explain-latency.ts` joins them.
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const dir = process.env.REQUEST_TRACE_DIR ?? '/tmp';
const wall = () => performance.timeOrigin + performance.now();
const rows = [];
const original = https.request;
https.request = function tracedRequest(...args) {
  const req = original.apply(this, args);
  const row = { start: wall(), method: req.method, path: req.path };
  rows.push(row);
  req.once('response', (res) => {
    row.headers = wall();
    row.status = res.statusCode;
    res.once('end', () => (row.end = wall()));
  });
  return req;
};

// Event-loop stalls (GC, long tasks): one row per 10 ms tick that came late.
const ticks = [];
let last = wall();
setInterval(() => {
  const now = wall();
  if (now - last > 20) ticks.push({ at: now, lateMs: now - last - 10 });
  last = now;
}, 10).unref();
const h = monitorEventLoopDelay({ resolution: 5 });
h.enable();

process.once('SIGTERM', () => {
  const lines = rows.map((r) => JSON.stringify({ kind: 'request', ...r }));
  for (const t of ticks) lines.push(JSON.stringify({ kind: 'stall', ...t }));
  lines.push(
    JSON.stringify({
      kind: 'loopDelay',
      p50: h.percentile(50) / 1e6,
      p99: h.percentile(99) / 1e6,
      max: h.max / 1e6,
    }),
  );
  fs.writeFileSync(path.join(dir, `requests-${process.pid}.jsonl`), lines.join('\n') + '\n');
});
