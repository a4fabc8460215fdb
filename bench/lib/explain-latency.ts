/**
 * Diagnosis: where the time of each benchmarked Remediation went. Joins the bench's samples
 * (BENCH_SAMPLES_FILE) with the operator's request trace (bench/lib/request-trace-hook.mjs):
 *
 *   npx tsx bench/lib/explain-latency.ts /tmp/samples.jsonl /tmp/requests-<pid>.jsonl
 *
 * Prints the p50/p90/p99 of each segment (created -> the operator's GET of the target, the GET,
 * the status PATCH, the target PATCH, the PATCH's answer -> the bench's watch event) and the
 * breakdown of the slowest Remediations, with the operator's event-loop stalls during them.
 */
import { readFileSync } from 'node:fs';

interface Sample {
  name: string;
  created: number;
  checkpoint: number | null;
  visible: number | null;
}
interface Req {
  kind: 'request';
  start: number;
  headers?: number;
  end?: number;
  method: string;
  path: string;
}
interface Stall {
  kind: 'stall';
  at: number;
  lateMs: number;
}

const [samplesPath, tracePath] = process.argv.slice(2);
if (!samplesPath || !tracePath) {
  console.error('usage: explain-latency <samples.jsonl> <requests-PID.jsonl>');
  process.exit(2);
}
const lines = (p: string): unknown[] =>
  readFileSync(p, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as unknown);
const samples = lines(samplesPath) as Sample[];
const trace = lines(tracePath) as (Req | Stall | { kind: 'loopDelay' })[];
const reqs = trace.filter((r): r is Req => r.kind === 'request').sort((a, b) => a.start - b.start);
const stalls = trace.filter((r): r is Stall => r.kind === 'stall');

const SEGMENTS = [
  'created -> GET sent',
  'GET target',
  'GET -> PATCH status sent',
  'PATCH status',
  'PATCH status -> PATCH target sent',
  'PATCH target',
  'PATCH target -> bench sees it',
  'total',
] as const;
type Row = { name: string; seg: number[]; stallMs: number };
const rows: Row[] = [];
for (const s of samples) {
  const visible = s.visible;
  if (visible === null) continue;
  const after = (t: number, f: (r: Req) => boolean): Req | undefined =>
    reqs.find((r) => r.start >= t && r.end !== undefined && f(r));
  const patchStatus = after(
    s.created - 50,
    (r) => r.method === 'PATCH' && r.path.includes(`/remediations/${s.name}/status`),
  );
  if (!patchStatus) continue;
  const get = [...reqs]
    .reverse()
    .find(
      (r) =>
        r.start <= patchStatus.start &&
        r.start >= s.created - 50 &&
        r.method === 'GET' &&
        r.path.includes('/deployments/'),
    );
  const target = get?.path.split('?')[0];
  const patchTarget = after(patchStatus.end!, (r) => r.method === 'PATCH' && r.path.split('?')[0] === target);
  if (!get || !patchTarget) continue;
  const seg = [
    get.start - s.created,
    get.end! - get.start,
    patchStatus.start - get.end!,
    patchStatus.end! - patchStatus.start,
    patchTarget.start - patchStatus.end!,
    patchTarget.end! - patchTarget.start,
    visible - patchTarget.end!,
    visible - s.created,
  ];
  const stallMs = stalls
    .filter((t) => t.at >= s.created && t.at - t.lateMs <= visible)
    .reduce((a, t) => a + t.lateMs, 0);
  rows.push({ name: s.name, seg, stallMs });
}

const pct = (xs: number[], p: number): number => {
  const v = [...xs].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.floor((p / 100) * v.length))] ?? NaN;
};
const f = (x: number): string => x.toFixed(1).padStart(7);
console.log(`${rows.length} of ${samples.length} Remediations matched to their requests`);
console.log(`${'segment (ms)'.padEnd(36)}    p50     p90     p99     max`);
SEGMENTS.forEach((name, i) => {
  const xs = rows.map((r) => r.seg[i]!);
  console.log(
    `${name.padEnd(36)}${f(pct(xs, 50))} ${f(pct(xs, 90))} ${f(pct(xs, 99))} ${f(Math.max(...xs))}`,
  );
});
const slow = [...rows]
  .sort((a, b) => b.seg[7]! - a.seg[7]!)
  .slice(0, Math.max(3, Math.ceil(rows.length / 20)));
console.log(
  '\nslowest (segments in the order above; stall = operator event-loop lateness inside the window):',
);
for (const r of slow) console.log(`${r.name}  ${r.seg.map(f).join(' ')}  stall ${r.stallMs.toFixed(1)}`);
const loop = trace.find((r) => r.kind === 'loopDelay');
if (loop) console.log('\noperator event-loop delay over the run:', JSON.stringify(loop));
