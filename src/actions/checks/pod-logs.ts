/**
 * podLogs: diagnostics. Reads the newest lines of the logs of the target's pods into the
 * step's output (and so the audit row), for the person who looks later: the 503s in a
 * backend's log before it is restarted, the last words of a crashed container.
 *
 * Read-only (it runs in dry runs too) and bounded: at most `maxPods` pods, `tailLines` lines
 * each, `maxBytes` recorded in all (the newest lines kept). A pod whose log cannot be read
 * (no such container, no previous run, its node unreachable) is recorded with the error and
 * the step still succeeds: diagnostics should not stop a remediation. The operator itself
 * not being allowed to read logs (RBAC), or the API server being down, fails it.
 */
import type { Action, ActionContext, ActionOutcome, Plan } from '../types.js';
import type { Step, StepStatus } from '../../api/v1alpha1/schema.js';
import type { KubeObject } from '../../kube/raw-object.js';
import { apiErrorMessage, statusCode } from '../../kube/client.js';
import { readContainerLog, type LogRead } from '../../kube/pod-logs.js';
import { ERROR_CODES } from '../../util/errors.js';
import { done, failed, isFailed, type Failed } from '../outcome.js';
import { describeTarget, requireTarget } from '../step-input.js';
import { dig, selectorString, validateTargetKind } from '../kubernetes/workload.js';
import { failureFromError, raw } from '../kubernetes/api.js';
import { readObject } from '../kubernetes/reads.js';
import { byteLength, maskSecrets, type StepOutput } from '../output.js';
import { patternFinds, patternProblem } from '../services/pattern.js';

/** Kinds whose pods podLogs can find: the workloads by their selector, a Pod itself. */
export const POD_LOG_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Pod'] as const;

const DEFAULT_CONTAINER_ANNOTATION = 'kubectl.kubernetes.io/default-container';

export interface PodLogsParams {
  container?: string;
  tailLines?: number;
  match?: string;
  maxPods?: number;
  maxBytes?: number;
  previous?: boolean;
}

const DEFAULTS = { tailLines: 100, maxPods: 3, maxBytes: 8192 } as const;

export function validatePodLogs(step: Step): string[] {
  const problem = patternProblem(step.podLogs?.match, 'podLogs.match');
  return [...validateTargetKind(step, POD_LOG_KINDS), ...(problem ? [problem] : [])];
}

interface ContainerStatus {
  ready?: boolean;
  restartCount?: number;
}

function podTrouble(pod: KubeObject): { notReady: boolean; restarts: number } {
  const statuses = (dig(pod, 'status', 'containerStatuses') as ContainerStatus[] | undefined) ?? [];
  return {
    notReady: statuses.length === 0 || statuses.some((c) => c.ready !== true),
    restarts: statuses.reduce((n, c) => n + (c.restartCount ?? 0), 0),
  };
}

/**
 * Which pods to read (pure): the troubled first (not ready, then most restarts), then by
 * name, so that a run reads the same pods as the next and the broken ones are not missed.
 */
export function choosePods(pods: readonly KubeObject[], maxPods: number): KubeObject[] {
  const name = (p: KubeObject): string => p.metadata?.name ?? '';
  return [...pods]
    .map((pod) => ({ pod, ...podTrouble(pod) }))
    .sort(
      (a, b) =>
        Number(b.notReady) - Number(a.notReady) ||
        b.restarts - a.restarts ||
        name(a.pod).localeCompare(name(b.pod)),
    )
    .slice(0, maxPods)
    .map((x) => x.pod);
}

/** The container to read (pure): the one asked for, else the pod's default, else its first. */
export function containerOf(
  pod: KubeObject,
  wanted: string | undefined,
): { name: string } | { error: string } {
  const names = ((dig(pod, 'spec', 'containers') as { name?: string }[] | undefined) ?? []).map(
    (c) => c.name ?? '',
  );
  if (wanted !== undefined)
    return names.includes(wanted)
      ? { name: wanted }
      : { error: `no container "${wanted}" (it has ${names.join(', ')})` };
  const preferred = pod.metadata?.annotations?.[DEFAULT_CONTAINER_ANNOTATION];
  if (preferred && names.includes(preferred)) return { name: preferred };
  return names[0] ? { name: names[0] } : { error: 'the pod has no containers' };
}

/**
 * The lines to record (pure): those matching `match` (all without it), masked, and of those
 * the newest that fit in `budget` bytes. `truncated` when older matching lines were left out.
 */
export function keepLines(
  lines: readonly string[],
  match: string | undefined,
  budget: number,
): { lines: string[]; matched: number; truncated: boolean } {
  // A log ending in a newline splits into a last empty line, which is no line of the log.
  const all = lines.length && lines[lines.length - 1] === '' ? lines.slice(0, -1) : lines;
  const hits = match === undefined ? all : all.filter((l) => patternFinds(match, l));
  const kept: string[] = [];
  let used = 0;
  for (let i = hits.length - 1; i >= 0; i--) {
    const line = maskSecrets(hits[i]!);
    // JSON quotes and a comma per line: the record is what is bounded, not the raw text.
    const size = byteLength(JSON.stringify(line)) + 1;
    if (used + size > budget) break;
    used += size;
    kept.push(line);
  }
  return { lines: kept.reverse(), matched: hits.length, truncated: kept.length < hits.length };
}

/** One pod as podLogs records it in `output.pods`. */
export interface PodRecord {
  name: string;
  container?: string;
  lines?: string[];
  matched?: number;
  truncated?: boolean;
  error?: string;
}

async function findPods(
  ctx: ActionContext,
  namespace: string,
  target: KubeObject,
): Promise<KubeObject[] | Failed> {
  if (target.kind === 'Pod') return [target];
  const selector = selectorString(dig(target, 'spec', 'selector'));
  // An empty selector would select every pod of the namespace.
  if (!selector) return [];
  try {
    return (await raw(ctx).listIn({ apiVersion: 'v1', kind: 'Pod', namespace }, selector)).items;
  } catch (err) {
    return failureFromError(err, `pods in ${namespace}`);
  }
}

/** One pod's log, or what went wrong; a failure of the whole step for RBAC and an unreachable API server. */
async function readPod(
  ctx: ActionContext,
  pod: KubeObject,
  p: PodLogsParams,
  budget: number,
): Promise<PodRecord | Failed> {
  const name = pod.metadata?.name ?? '';
  const container = containerOf(pod, p.container);
  if ('error' in container) return { name, error: container.error };
  let read: LogRead;
  try {
    read = await readContainerLog(ctx.clients.kc, {
      namespace: pod.metadata?.namespace ?? ctx.target!.namespace,
      pod: name,
      container: container.name,
      tailLines: p.tailLines ?? DEFAULTS.tailLines,
      previous: p.previous ?? false,
    });
  } catch (err) {
    const code = statusCode(err);
    if (code === 401 || code === 403) return failureFromError(err, `logs of pod ${name}`);
    if (code === undefined)
      return failed(
        ERROR_CODES.kubeUnavailable,
        'KubeUnavailable',
        `logs of pod ${name}: ${apiErrorMessage(err)}`,
        true,
      );
    return { name, container: container.name, error: maskSecrets(apiErrorMessage(err)).slice(0, 500) };
  }
  const kept = keepLines(read.lines, p.match, budget);
  return {
    name,
    container: container.name,
    lines: kept.lines,
    ...(p.match !== undefined ? { matched: kept.matched } : {}),
    ...(kept.truncated || read.cut ? { truncated: true } : {}),
  };
}

function summary(
  what: string,
  records: readonly PodRecord[],
  total: number,
  match: string | undefined,
): string {
  if (total === 0) return `${what}: no pods, no logs read`;
  const lines = records.reduce((n, r) => n + (r.lines?.length ?? 0), 0);
  const errors = records.filter((r) => r.error).map((r) => `${r.name}: ${r.error}`);
  const matching = match !== undefined ? ` matching /${match}/` : '';
  return `${what}: ${lines} line(s)${matching} from ${records.length - errors.length} of ${total} pod(s)${
    errors.length ? `; not read: ${errors.join('; ').slice(0, 500)}` : ''
  }`;
}

async function apply(ctx: ActionContext, _record: StepStatus): Promise<ActionOutcome> {
  const ref = requireTarget(ctx);
  if (isFailed(ref)) return ref;
  if (!(POD_LOG_KINDS as readonly string[]).includes(ref.kind))
    return failed(
      ERROR_CODES.invalidSpec,
      'UnsupportedKind',
      `podLogs works on ${POD_LOG_KINDS.join(', ')}, not ${ref.kind}`,
      false,
    );
  const p: PodLogsParams = ctx.step.podLogs ?? {};
  const what = `logs of ${describeTarget(ref)}`;
  const target = await readObject(ctx, ref);
  if (isFailed(target)) return target;
  const pods = await findPods(ctx, ref.namespace, { ...target, kind: ref.kind });
  if (isFailed(pods)) return pods;
  const chosen = choosePods(pods, p.maxPods ?? DEFAULTS.maxPods);
  const budget = Math.floor((p.maxBytes ?? DEFAULTS.maxBytes) / Math.max(1, chosen.length));
  const records: PodRecord[] = [];
  for (const pod of chosen) {
    const rec = await readPod(ctx, pod, p, budget);
    if (isFailed(rec)) return rec;
    records.push(rec);
  }
  const output: StepOutput = {
    pods: records,
    ...(pods.length > chosen.length ? { podCount: pods.length, truncated: true } : {}),
  };
  return done(summary(what, records, pods.length, p.match), { output });
}

export const podLogs: Action = {
  name: 'podLogs',
  mutating: false,
  reversible: false,
  validate: validatePodLogs,
  plan: (): Promise<Plan> => Promise.resolve({}),
  apply,
};
