/**
 * What the API server itself counts: `apiserver_request_total` from its /metrics, summed by
 * verb and resource (with the subresource, e.g. `PATCH remediations/status`). The storm bench
 * reads its writes here unless `--proxy` puts the counting proxy in the operator's path: the
 * proxy terminates and re-opens every TLS request on the same two cores the drain is measured
 * on (about a fifth of a core during the storm), which the operator never has in production.
 */
import { request } from 'node:https';
import { parseMetrics } from './prom.js';

/** `VERB resource[/subresource]` → requests so far. */
export type RequestCounts = ReadonlyMap<string, number>;

const WRITE_VERBS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'APPLY']);

/** Reads the API server's request counters (the bench cluster's admin token; its own CA, not checked). */
export async function apiserverRequests(server: string, token: string): Promise<RequestCounts> {
  const text = await new Promise<string>((resolve, reject) => {
    const req = request(
      `${server}/metrics`,
      { headers: { authorization: `Bearer ${token}` }, rejectUnauthorized: false, timeout: 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          if ((res.statusCode ?? 0) >= 300) reject(new Error(`GET ${server}/metrics: ${res.statusCode}`));
          else resolve(body);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${server}/metrics: timed out`)));
    req.on('error', reject);
    req.end();
  });
  const counts = new Map<string, number>();
  for (const s of parseMetrics(text)) {
    if (s.name !== 'apiserver_request_total') continue;
    const { verb = '?', resource = '', subresource = '' } = s.labels;
    const key = `${verb} ${resource}${subresource ? `/${subresource}` : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + s.value);
  }
  return counts;
}

/** The requests between two readings, most first. */
export function requestsBetween(a: RequestCounts, b: RequestCounts): { key: string; count: number }[] {
  const out: { key: string; count: number }[] = [];
  for (const [key, n] of b) {
    const count = n - (a.get(key) ?? 0);
    if (count > 0) out.push({ key, count });
  }
  return out.sort((x, y) => y.count - x.count || x.key.localeCompare(y.key));
}

const isWrite = (key: string): boolean => WRITE_VERBS.has(key.split(' ')[0]!);
/** `PUT leases` here, `PUT /apis/coordination.k8s.io/v1/namespaces/x/leases/y` from the proxy. */
const isResource = (key: string, resource: string): boolean =>
  new RegExp(`(^|/)${resource}(/|$)`).test(key.slice(key.indexOf(' ') + 1));

/** Writes among them (Lease renewals excluded). Takes this module's keys or the proxy's. */
export function writesOf(reqs: readonly { key: string; count: number }[]): number {
  return reqs.filter((r) => isWrite(r.key) && !isResource(r.key, 'leases')).reduce((a, r) => a + r.count, 0);
}

/** Event writes among them. */
export function eventWritesOf(reqs: readonly { key: string; count: number }[]): number {
  return reqs.filter((r) => isWrite(r.key) && isResource(r.key, 'events')).reduce((a, r) => a + r.count, 0);
}
