/**
 * `kube-remediator plan --runbook FILE --alert FILE`: what the operator would do with one alert,
 * printed for a person. Offline against the given objects (the engine of `kube-remediator
 * test`), or with `--cluster` against the live cluster: plan() reads the real targets and every
 * Kubernetes change (and any revert) is sent as a server-side dry run (dryRun=All), so the API
 * server validates it, admission webhooks included, and nothing is persisted. Returns the exit
 * code instead of exiting, so tests can call it.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import yaml from 'js-yaml';
import { Value } from '@sinclair/typebox/value';
import type { Runbook } from '../api/v1alpha1/schema.js';
import { WebhookPayload, type WebhookAlert } from '../intake/payload.js';
import { loadKubeConfig, makeClients } from '../kube/client.js';
import type { KubeObject } from '../kube/raw-object.js';
import { ObjectSet, objectProblems } from '../simulate/objects.js';
import { fingerprintOf } from '../simulate/run-tests.js';
import {
  asReconciled,
  givenOutcomes,
  KUBERNETES_CHANGES,
  revertStep,
  simulateAlert,
  type AlertResult,
  type StepRunner,
  type World,
} from '../simulate/simulate.js';
import { TestAlert } from '../simulate/test-file.js';
import { rfc3339 } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';

export const PLAN_USAGE = `Usage: kube-remediator plan --runbook FILE --alert FILE [options]

Prints what the operator would do with an alert: which Runbooks match, the rendered params and
target, and each step's planned change (before/after), or why the alert is suppressed. The
same code the operator runs decides (matching, rendering, scope, the start gates, the decision
protocol, each action's plan()).

  offline (default)  plans against the objects of --objects (none: every target is missing);
                     Kubernetes steps apply to an in-memory copy, so later steps see earlier
                     changes; other steps (checks, HTTP, Redis, PostgreSQL, notices) pass
  --cluster          plans against the live cluster and sends every Kubernetes change as a
                     server-side dry run (dryRun=All): validated by the API server, not persisted.
                     Other steps are not run (they would touch real services) and count as passed.
                     Cooldowns, rate limits and locks are not read from the cluster.

Options:
  --runbook <file>     Runbook YAML (several documents allowed); repeatable
  --alert <file>       an alert (YAML/JSON: labels, status...) or an Alertmanager notification
  --objects <file>     Kubernetes objects (YAML, several documents or a List); repeatable
  --cluster            against the cluster of the kubeconfig, with server-side dry run
  --kubeconfig <file>  kubeconfig for --cluster (default $KUBECONFIG, ~/.kube/config)
  --approved-by <who>  as if a person approved it (safety.requireApproval)
  --now <time>         the time of the alert (RFC 3339; default now)
  -o, --output <fmt>   text (default), yaml or json
  -h, --help           show this help

Exit codes: 0 printed; 1 the cluster could not be read; 2 bad usage or an invalid file.
`;

interface Writer {
  write(chunk: string): unknown;
}

export interface PlanCommandIO {
  stdout: Writer;
  stderr: Writer;
  now?: () => Date;
}

class UsageProblem extends Error {}

function readDocs(file: string): unknown[] {
  const docs = yaml.loadAll(readFileSync(file, 'utf8')).filter((d) => d !== null && d !== undefined);
  return docs.flatMap((d) => {
    const list = d as { kind?: string; items?: unknown[] };
    return list.kind?.endsWith('List') && list.items ? list.items : [d];
  });
}

/** The alerts of --alert: a notification's, or one alert given by its labels. */
function readAlerts(file: string, now: Date): WebhookAlert[] {
  const doc = yaml.load(readFileSync(file, 'utf8'));
  if (doc && typeof doc === 'object' && 'alerts' in doc) {
    const errs = [...Value.Errors(WebhookPayload, doc)].slice(0, 3);
    if (errs.length)
      throw new UsageProblem(`${file}: ${errs.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
    return (doc as WebhookPayload).alerts;
  }
  const errs = [...Value.Errors(TestAlert, doc)].slice(0, 3);
  if (errs.length)
    throw new UsageProblem(`${file}: ${errs.map((e) => `${e.path || '(alert)'}: ${e.message}`).join('; ')}`);
  const a = doc as TestAlert;
  return [
    {
      status: a.status ?? 'firing',
      labels: a.labels,
      annotations: a.annotations ?? {},
      startsAt: a.startsAt ?? rfc3339(now),
      fingerprint: a.fingerprint ?? fingerprintOf(a.labels),
    },
  ];
}

/** `--cluster`: Kubernetes changes and reverts as server-side dry runs; nothing else runs. */
const clusterDryRun: StepRunner = (op, action, ctx, rec) => {
  const dry = { ...ctx, dryRun: true };
  if (!KUBERNETES_CHANGES.has(action.name))
    return Promise.resolve({
      kind: 'done',
      message: `${rec.name}: not run by plan --cluster (counted as passed)`,
    });
  return op === 'revert' ? revertStep(action, dry, rec) : action.apply(dry, rec);
};

interface PlanArgs {
  runbook: string[];
  alert: string;
  objects?: string[];
  cluster?: boolean;
  kubeconfig?: string;
  'approved-by'?: string;
  now?: string;
  output?: string;
}

/** The flags, checked; a usage problem throws (exit 2), `--help` returns undefined. */
function parsePlanArgs(argv: string[]): PlanArgs | undefined {
  const v = parseArgs({
    args: argv,
    options: {
      runbook: { type: 'string', multiple: true },
      alert: { type: 'string' },
      objects: { type: 'string', multiple: true },
      cluster: { type: 'boolean' },
      kubeconfig: { type: 'string' },
      'approved-by': { type: 'string' },
      now: { type: 'string' },
      output: { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  }).values;
  if (v.help) return undefined;
  if (!v.runbook?.length) throw new UsageProblem('--runbook is required');
  if (!v.alert) throw new UsageProblem('--alert is required');
  if (v.output && !['text', 'yaml', 'json'].includes(v.output))
    throw new UsageProblem(`--output must be text, yaml or json, not ${v.output}`);
  if (v.cluster && v.objects?.length) throw new UsageProblem('--objects and --cluster exclude each other');
  if (v.now !== undefined && Number.isNaN(Date.parse(v.now)))
    throw new UsageProblem(`--now: not a time: ${v.now}`);
  return { ...v, runbook: v.runbook, alert: v.alert };
}

interface PlanInputs {
  runbooks: Runbook[];
  alerts: WebhookAlert[];
  objects: KubeObject[];
}

/** The files the flags name, read and checked; a problem throws (exit 2). */
function readPlanInputs(v: PlanArgs, now: Date): PlanInputs {
  const runbooks = v.runbook.flatMap((f) => readDocs(f) as Runbook[]).filter((d) => d.kind === 'Runbook');
  if (!runbooks.length) throw new UsageProblem(`no Runbook in ${v.runbook.join(', ')}`);
  const alerts = readAlerts(v.alert, now);
  const objects = (v.objects ?? []).flatMap((f) => readDocs(f) as KubeObject[]);
  const problems = objectProblems(objects);
  if (problems.length) throw new UsageProblem(`--objects: ${problems.join('; ')}`);
  return { runbooks, alerts, objects };
}

/**
 * What the plan runs against: the live cluster with server-side dry run (`--cluster`), or the
 * given objects, reset before each alert so that one alert's plan does not see another's.
 */
function planWorld(
  v: PlanArgs,
  runbooks: Runbook[],
  objects: KubeObject[],
): { world: World; run?: StepRunner } {
  if (v.cluster) {
    const clients = makeClients(loadKubeConfig(v.kubeconfig));
    return { world: { runbooks, clients: () => clients }, run: clusterDryRun };
  }
  const set = new ObjectSet(objects, { writable: true });
  return {
    world: {
      runbooks,
      clients: () => {
        set.reset();
        return set.clients();
      },
    },
  };
}

function printPlan(io: PlanCommandIO, output: string, alerts: WebhookAlert[], results: AlertResult[]): void {
  const doc = results.length === 1 ? results[0] : results;
  if (output === 'json') io.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  else if (output === 'yaml') io.stdout.write(yaml.dump(doc, { lineWidth: 120, noRefs: true }));
  else io.stdout.write(alerts.map((a, i) => formatPlan(a, results[i]!)).join('\n'));
}

export async function runPlanCommand(argv: string[], io: PlanCommandIO): Promise<number> {
  let v: PlanArgs | undefined;
  try {
    v = parsePlanArgs(argv);
  } catch (err) {
    io.stderr.write(`kube-remediator plan: ${errorMessage(err)}\n\n${PLAN_USAGE}`);
    return 2;
  }
  if (!v) {
    io.stdout.write(PLAN_USAGE);
    return 0;
  }
  const now = v.now ? new Date(v.now) : (io.now?.() ?? new Date());
  let inputs: PlanInputs;
  try {
    inputs = readPlanInputs(v, now);
  } catch (err) {
    io.stderr.write(`kube-remediator plan: ${errorMessage(err)}\n`);
    return 2;
  }
  const reconciled = inputs.runbooks.map(asReconciled);
  for (const r of reconciled.filter((x) => x.problems.length))
    io.stderr.write(
      `kube-remediator plan: runbook ${r.runbook.metadata.name ?? ''} is invalid (it would answer no alert): ${r.problems.join('; ')}\n`,
    );
  let planned: { world: World; run?: StepRunner };
  try {
    planned = planWorld(
      v,
      reconciled.map((r) => r.runbook),
      inputs.objects,
    );
  } catch (err) {
    io.stderr.write(`kube-remediator plan: ${errorMessage(err)}\n`);
    return 1;
  }
  const given = { now, ...(v['approved-by'] ? { approvedBy: v['approved-by'] } : {}) };
  const results: AlertResult[] = [];
  for (const a of inputs.alerts)
    results.push(await simulateAlert(planned.world, a, given, planned.run ?? givenOutcomes(given)));
  printPlan(io, v.output ?? 'text', inputs.alerts, results);
  return 0;
}

const compact = (v: unknown): string => JSON.stringify(v ?? {});

/** One alert's plan, for a person. */
export function formatPlan(alert: WebhookAlert, r: AlertResult): string {
  const labels = Object.entries(alert.labels)
    .filter(([k]) => k !== 'alertname')
    .map(([k, val]) => `${k}="${val}"`)
    .join(', ');
  const lines = [`Alert ${alert.labels.alertname ?? ''}{${labels}} (${alert.status})`];
  if (r.matched.length === 0) lines.push('  no Runbook matches: nothing would happen');
  for (const rb of r.runbooks) {
    const rem = rb.remediation;
    if (!rem) {
      lines.push(`  Runbook ${rb.runbook}: ${rb.outcome}${rb.message ? `: ${rb.message}` : ''}`);
      continue;
    }
    lines.push(`  Runbook ${rb.runbook}: creates Remediation ${rem.name}`);
    lines.push(
      `    params: ${Object.entries(rem.params)
        .map(([k, val]) => `${k}=${val}`)
        .join(' ')}`,
    );
    if (rem.target) lines.push(`    target: ${rem.target}`);
    lines.push(
      `    ends:   ${rem.phase}${rem.reason ? ` (${rem.reason})` : ''}${rem.message ? `: ${rem.message}` : ''}`,
    );
    rem.steps.forEach((s, i) => {
      lines.push(`    ${i + 1}. ${s.name}  ${s.action}  ${s.phase}${s.target ? `  ${s.target}` : ''}`);
      if (s.before || s.after)
        lines.push(`         before: ${compact(s.before)}`, `         after:  ${compact(s.after)}`);
      if (s.message) lines.push(`         ${s.message}`);
    });
  }
  return `${lines.join('\n')}\n`;
}
