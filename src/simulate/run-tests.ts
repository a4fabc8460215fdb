/**
 * Runs the cases of test files and compares what follows with what they expect: the engine of
 * `kube-remediator test`. Only the fields an expectation gives are compared (a `message` as a
 * part of the text), except `matched` and `steps`, which are whole lists.
 */
import { createHash } from 'node:crypto';
import type { Runbook } from '../api/v1alpha1/schema.js';
import type { WebhookAlert } from '../intake/payload.js';
import type { KubeClients } from '../kube/client.js';
import type { KubeObject } from '../kube/raw-object.js';
import { deepEqual } from '../util/deep-equal.js';
import { ObjectSet } from './objects.js';
import {
  asReconciled,
  simulateAlert,
  type AlertResult,
  type Given as SimGiven,
  type World,
} from './simulate.js';
import {
  agoMs,
  DEFAULT_NOW,
  type AlertExpect,
  type LoadedTestFile,
  type TestAlert,
  type TestCase,
} from './test-file.js';

export interface Difference {
  path: string;
  expected: unknown;
  got: unknown;
}

export interface CaseReport {
  name: string;
  passed: boolean;
  differences: Difference[];
  /** What followed, per alert (for --show and for writing expectations). */
  got: AlertResult[];
}

export interface FileReport {
  file: string;
  /** Runbooks the Runbook controller would hold Ready=False: they answer no alert. */
  invalidRunbooks: { name: string; problems: string[] }[];
  cases: CaseReport[];
}

/** A stable fingerprint for an alert given by labels only (Alertmanager hashes the label set too). */
export function fingerprintOf(labels: Record<string, string>): string {
  const text = Object.keys(labels)
    .sort()
    .map((k) => `${k}\u0000${labels[k]}`)
    .join('\u0001');
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

function webhookAlert(a: TestAlert, now: string): WebhookAlert {
  return {
    status: a.status ?? 'firing',
    labels: a.labels,
    annotations: a.annotations ?? {},
    startsAt: a.startsAt ?? now,
    fingerprint: a.fingerprint ?? fingerprintOf(a.labels),
  };
}

function objectKey(o: KubeObject): string {
  return `${o.apiVersion ?? ''}/${o.kind ?? ''}/${o.metadata?.namespace ?? 'default'}/${o.metadata?.name ?? ''}`;
}

/** The file's objects with the case's laid over them (same apiVersion, kind, namespace and name: replaced). */
function mergeObjects(base: readonly KubeObject[], extra: readonly KubeObject[]): KubeObject[] {
  const byKey = new Map(base.map((o) => [objectKey(o), o]));
  for (const o of extra) byKey.set(objectKey(o), o);
  return [...byKey.values()];
}

function simGiven(c: TestCase, fileNow: string): SimGiven {
  const now = new Date(c.given?.now ?? fileNow);
  const g = c.given ?? {};
  return {
    now,
    ...(g.approvedBy ? { approvedBy: g.approvedBy } : {}),
    ...(g.rejectedBy ? { rejectedBy: g.rejectedBy } : {}),
    ...(g.checks ? { checks: g.checks } : {}),
    history: (g.history ?? []).map((h) => ({
      runbook: h.runbook,
      at: h.at ? new Date(h.at) : new Date(now.getTime() - agoMs(h.ago ?? '0s')),
      phase: h.phase,
      ...(h.target ? { target: h.target } : {}),
    })),
    steps: Object.fromEntries(
      Object.entries(g.steps ?? {}).map(([name, v]) => [
        name,
        v === 'pass'
          ? { result: 'pass' as const }
          : v === 'fail'
            ? { result: 'fail' as const }
            : { result: 'fail' as const, message: v.fail },
      ]),
    ),
  };
}

/** Runs every case of a loaded file. */
export async function runTestFile(loaded: LoadedTestFile): Promise<FileReport> {
  const invalidRunbooks: FileReport['invalidRunbooks'] = [];
  const runbooks: Runbook[] = loaded.runbooks.map((rb) => {
    const r = asReconciled(rb);
    if (r.problems.length) invalidRunbooks.push({ name: rb.metadata.name ?? '', problems: r.problems });
    return r.runbook;
  });
  const fileNow = loaded.spec.now ?? DEFAULT_NOW;
  // Each Remediation's run starts from the objects as given (a reset of the same set).
  const fresh = (objects: readonly KubeObject[]): (() => KubeClients) => {
    const set = new ObjectSet(objects, { writable: true });
    return () => {
      set.reset();
      return set.clients();
    };
  };
  const shared = fresh(loaded.objects);
  const cases: CaseReport[] = [];
  for (const c of loaded.spec.cases) {
    const world: World = {
      runbooks,
      clients: c.objects ? fresh(mergeObjects(loaded.objects, c.objects as KubeObject[])) : shared,
    };
    const given = simGiven(c, fileNow);
    const nowText = given.now.toISOString().replace(/\.000Z$/, 'Z');
    const alerts = c.alert ? [webhookAlert(c.alert, nowText)] : (loaded.notifications.get(c)?.alerts ?? []);
    const got: AlertResult[] = [];
    for (const a of alerts) got.push(await simulateAlert(world, a, given));
    const differences = c.expect.alerts
      ? compareAlerts(c.expect.alerts, got)
      : got.length === 1
        ? compareAlert(c.expect, got[0]!, '')
        : compareAlerts([c.expect], got);
    cases.push({ name: c.name, passed: differences.length === 0, differences, got });
  }
  return { file: loaded.file, invalidRunbooks, cases };
}

function compareAlerts(expected: readonly AlertExpect[], got: readonly AlertResult[]): Difference[] {
  if (expected.length !== got.length)
    return [{ path: 'alerts', expected: `${expected.length} alert(s)`, got: `${got.length} alert(s)` }];
  return expected.flatMap((e, i) => compareAlert(e, got[i]!, `alerts[${i}].`));
}

/** `default/redis-outage` is also `redis-outage` in an expectation. */
function shortName(key: string): string {
  return key.slice(key.indexOf('/') + 1);
}

function compareAlert(e: AlertExpect, got: AlertResult, prefix: string): Difference[] {
  const out: Difference[] = [];
  if (e.matched) {
    const want = [...e.matched].sort();
    const have = got.matched.map((k) => (e.matched!.includes(k) ? k : shortName(k))).sort();
    if (!deepEqual(want, have)) out.push({ path: `${prefix}matched`, expected: want, got: have });
  }
  for (const [name, re] of Object.entries(e.runbooks ?? {})) {
    const r = got.runbooks.find((x) => x.runbook === name || shortName(x.runbook) === name);
    const path = `${prefix}runbooks.${name}`;
    if (!r) {
      out.push({ path, expected: 'a match', got: 'no match' });
      continue;
    }
    const view = {
      outcome: r.outcome,
      message: r.message ?? r.remediation?.message,
      ...(r.remediation
        ? {
            name: r.remediation.name,
            params: r.remediation.params,
            target: r.remediation.target,
            phase: r.remediation.phase,
            reason: r.remediation.reason,
            steps: r.remediation.steps,
          }
        : {}),
    };
    compare(re, view, path, out);
  }
  return out;
}

/**
 * Compares only what `expected` gives; lists compare whole (same length), a `message` as a part,
 * `{}` as nothing at all.
 */
export function compare(expected: unknown, got: unknown, path: string, out: Difference[]): void {
  const key = path.slice(path.lastIndexOf('.') + 1);
  if (key === 'message' && typeof expected === 'string') {
    if (typeof got !== 'string' || !got.includes(expected))
      out.push({ path, expected: `a text containing ${JSON.stringify(expected)}`, got });
    return;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(got) || got.length !== expected.length) {
      out.push({ path, expected, got });
      return;
    }
    expected.forEach((e, i) => compare(e, got[i], `${path}[${i}]`, out));
    return;
  }
  if (expected !== null && typeof expected === 'object') {
    // `{}` says "nothing": not a subset of anything.
    if (Object.keys(expected).length === 0) {
      const empty =
        got === undefined || (typeof got === 'object' && got !== null && Object.keys(got).length === 0);
      if (!empty) out.push({ path, expected, got });
      return;
    }
    if (got === null || typeof got !== 'object' || Array.isArray(got)) {
      out.push({ path, expected, got });
      return;
    }
    for (const [k, v] of Object.entries(expected))
      compare(v, (got as Record<string, unknown>)[k], `${path}.${k}`, out);
    return;
  }
  if (!deepEqual(expected, got)) out.push({ path, expected, got });
}
