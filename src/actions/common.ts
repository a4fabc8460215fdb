import * as k8s from '@kubernetes/client-node';
/** Helpers every action shares: outcomes, error mapping, targets and the stamp. */
import type { ActionContext, ActionOutcome, Plan, ResolvedTarget } from './types.js';
import type { Step } from '../api/v1alpha1/schema.js';
import { ANNOTATIONS } from '../api/v1alpha1/constants.js';
import { apiErrorMessage, isUnavailable, statusCode } from '../kube/client.js';
import { ERROR_CODES, RemediatorError, type ErrorCode } from '../util/errors.js';
export { stableJson } from './json-pointer.js';
import { RawObjectApi, type KubeObject, type ObjectRef } from './raw-object.js';

/** Shows up in managedFields, so people can see which changes were ours. */
export const FIELD_MANAGER = 'kube-remediator';
export const STAMP_ANNOTATION = ANNOTATIONS.lastAction;
export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';

export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

/** How often a waiting action asks to be looked at again. */
export const POLL_MS = 2000;
/** How long a check or call to an outside service may take. */
export const EXTERNAL_TIMEOUT_MS = 10_000;

export type Failed = Extract<ActionOutcome, { kind: 'failed' }>;

export function done(
  message: string,
  extra: {
    before?: Record<string, unknown>;
    after?: Record<string, unknown>;
    diff?: Record<string, unknown>;
  } = {},
): ActionOutcome {
  return { kind: 'done', message, ...extra };
}

export function inProgress(message: string, requeueAfterMs = POLL_MS): ActionOutcome {
  return { kind: 'inProgress', message, requeueAfterMs };
}

export function failed(code: ErrorCode, reason: string, message: string, retryable: boolean): Failed {
  return { kind: 'failed', code, reason, message, retryable };
}

export function refusal(code: ErrorCode, reason: string, message: string): Plan {
  return { refused: { code, reason, message } };
}

/**
 * What plan() does with a failed read: a permanent failure (404, invalid, forbidden) refuses
 * the step; a transient one (409, 5xx, unreachable) is thrown so the reconciler retries.
 */
export function planFailure(f: Failed): Plan {
  if (f.retryable) throw new RemediatorError(f.code, f.message);
  return refusal(f.code, f.reason, f.message);
}

/** A plan that was refused must never be applied; this guards apply against it. */
export function refusedOutcome(plan: Plan): Failed | undefined {
  const r = plan.refused;
  return r ? failed(r.code, r.reason, r.message, false) : undefined;
}

/**
 * Maps an API error to a failure: a missing target needs a person (not retryable), while
 * conflicts, throttling, 5xx and an unreachable server pass with time.
 */
export function failureFromError(err: unknown, what: string): Failed {
  const code = statusCode(err);
  const detail = apiErrorMessage(err);
  if (code === 404) return failed(ERROR_CODES.notFound, 'NotFound', `${what} not found: ${detail}`, false);
  if (code === 409)
    return failed(ERROR_CODES.conflict, 'Conflict', `${what}: conflict, will retry: ${detail}`, true);
  if (isUnavailable(err)) {
    return failed(
      ERROR_CODES.kubeUnavailable,
      'KubeUnavailable',
      `${what}: API server unavailable: ${detail}`,
      true,
    );
  }
  if (code === 401 || code === 403) {
    return failed(
      ERROR_CODES.unauthorized,
      'Forbidden',
      `${what}: not allowed (check the operator's RBAC): ${detail}`,
      false,
    );
  }
  if (code === 400 || code === 422)
    return failed(ERROR_CODES.actionFailed, 'Invalid', `${what}: rejected: ${detail}`, false);
  return failed(ERROR_CODES.actionFailed, 'ActionFailed', `${what}: ${detail}`, false);
}

/** Runs an API call and turns a thrown error into a failure. */
export async function attempt<T>(what: string, fn: () => Promise<T>): Promise<T | Failed> {
  try {
    return await fn();
  } catch (err) {
    return failureFromError(err, what);
  }
}

/**
 * A guarded write that lost a race: a conflict (409) or a JSON patch whose `test` no longer
 * holds (422). Worth reading the target again before deciding.
 */
export function lostRace(f: Failed): boolean {
  return f.reason === 'Conflict' || f.reason === 'Invalid';
}

/** The refusal of a revert whose target changed after the step (compare-and-swap failed). */
export function changedSince(what: string): Failed {
  return failed(ERROR_CODES.actionRefused, 'ChangedSince', what, false);
}

export function isFailed(x: unknown): x is Failed {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'failed';
}

export function describeTarget(t: ResolvedTarget): string {
  return `${t.kind}/${t.namespace}/${t.name}`;
}

export function requireTarget(ctx: ActionContext): ResolvedTarget | Failed {
  return (
    ctx.target ??
    failed(
      ERROR_CODES.invalidSpec,
      'MissingTarget',
      `step "${ctx.step.name}" (${ctx.step.action}) needs a target`,
      false,
    )
  );
}

export function requireWorkload(
  ctx: ActionContext,
  kinds: readonly WorkloadKind[] = WORKLOAD_KINDS,
): ObjectRef | Failed {
  const t = requireTarget(ctx);
  if (isFailed(t)) return t;
  if (!(kinds as readonly string[]).includes(t.kind)) {
    return failed(
      ERROR_CODES.invalidSpec,
      'UnsupportedKind',
      `${ctx.step.action} works on ${kinds.join(', ')}, not ${t.kind}`,
      false,
    );
  }
  return t;
}

/** The parameter member named after the action, or a failure naming it. */
export function requireParams<K extends keyof Step>(
  ctx: ActionContext,
  key: K,
): NonNullable<Step[K]> | Failed {
  const p = ctx.step[key];
  if (p === undefined || p === null) {
    return failed(
      ERROR_CODES.invalidSpec,
      'MissingParams',
      `step "${ctx.step.name}": ${String(key)} parameters are missing`,
      false,
    );
  }
  return p;
}

export function raw(ctx: ActionContext): RawObjectApi {
  return RawObjectApi.forConfig(ctx.clients.kc);
}

/** How many times a compare-and-swap revert reads the target again after losing a race. */
export const REVERT_TRIES = 3;

/**
 * Sends a revert's guarded JSON patch (its `test` ops hold the values just read). `'retry'`
 * when the target changed after the read and try `n` may look again; otherwise the patched
 * object or the failure.
 */
export async function guardedJsonPatch(
  ctx: ActionContext,
  ref: ObjectRef,
  ops: unknown[],
  what: string,
  n: number,
): Promise<KubeObject | Failed | 'retry'> {
  const res = await attempt(what, () =>
    raw(ctx).patchRaw(ref, ops, {
      contentType: k8s.PatchStrategy.JsonPatch,
      dryRun: ctx.dryRun,
      fieldManager: FIELD_MANAGER,
    }),
  );
  // A failed `test` (422) or a conflict: the object changed after the read; look again.
  if (isFailed(res) && lostRace(res) && n < REVERT_TRIES) return 'retry';
  return res;
}

/** Objects readObject handed out from the target cache (copies; see isCachedRead). */
const cachedReads = new WeakSet<object>();

/**
 * The object came from the target cache, which may be a moment behind: a change based on it
 * must carry its resourceVersion as a precondition, and a refusal based on it must be
 * confirmed by reading the API server (see controller/runtime/target-cache.ts).
 */
export function isCachedRead(obj: KubeObject): boolean {
  return cachedReads.has(obj);
}

/**
 * Reads the object: in an apply() right after plan() read it in the same pass, that read
 * (handed out once, see PassReads); with `cached` (plan() only), a copy from the target cache
 * when it holds the object; otherwise a GET.
 */
export async function readObject(
  ctx: ActionContext,
  ref: ObjectRef,
  opts: { cached?: boolean } = {},
): Promise<KubeObject | Failed> {
  const seen = takeRead(ctx, ref);
  if (seen) return seen;
  return (opts.cached ? peekTarget(ctx, ref) : undefined) ?? readLive(ctx, ref);
}

/** plan()'s read of `ref` in this pass, for its apply() (once); undefined elsewhere. */
export function takeRead(ctx: ActionContext, ref: ObjectRef): KubeObject | undefined {
  return ctx.reads?.take(passKey(ref));
}

/** Records what plan() read some other way (a subresource), for its apply() in the same pass. */
export function recordRead(ctx: ActionContext, ref: ObjectRef, obj: KubeObject): void {
  ctx.reads?.record(passKey(ref), obj);
}

/** A copy of the cached object (plan() only), recorded for apply(); undefined when not cached. */
export function peekTarget(ctx: ActionContext, ref: ObjectRef): KubeObject | undefined {
  const hit = ctx.targets?.peek(ref);
  if (!hit) return undefined;
  const copy = structuredClone(hit);
  cachedReads.add(copy);
  ctx.reads?.record(passKey(ref), copy);
  return copy;
}

/** A GET, whatever plan() or the cache saw (recorded for apply() when plan() calls it). */
export async function readLive(ctx: ActionContext, ref: ObjectRef): Promise<KubeObject | Failed> {
  const key = passKey(ref);
  const obj = await attempt(key, () => raw(ctx).get(ref));
  if (!isFailed(obj)) ctx.reads?.record(key, obj);
  return obj;
}

function passKey(ref: ObjectRef): string {
  return `${ref.apiVersion}/${ref.kind}/${ref.namespace}/${ref.name}`;
}

/**
 * plan() from the target cache: a refusal planned on a cached object (a paused Deployment, a
 * container missing) may be the cache lagging behind, so it is planned again on a GET before
 * it fails the step. Anything else planned on the cache is confirmed by apply()'s precondition.
 */
export async function planOnCached(
  ctx: ActionContext,
  ref: ObjectRef,
  planOn: (obj: KubeObject) => Plan,
): Promise<Plan> {
  const obj = await readObject(ctx, ref, { cached: true });
  if (isFailed(obj)) return planFailure(obj);
  const plan = planOn(obj);
  if (!plan.refused || !isCachedRead(obj)) return plan;
  const live = await readLive(ctx, ref);
  if (isFailed(live)) return planFailure(live);
  return planOn(live);
}

/**
 * The `test` ops that make a JSON patch apply only to the object of the cached read, while its
 * spec is the one read: its uid (not one deleted and created again under the name) and
 * `metadata.generation`, which changes with every spec change and, unlike the resourceVersion,
 * not with status updates (frequent during a rollout). The resourceVersion instead for an
 * object without a generation.
 */
export function sameSpecTests(obj: KubeObject): { op: 'test'; path: string; value: unknown }[] {
  const m = obj.metadata ?? {};
  const uid = m.uid !== undefined ? [{ op: 'test' as const, path: '/metadata/uid', value: m.uid }] : [];
  return m.generation !== undefined
    ? [...uid, { op: 'test', path: '/metadata/generation', value: m.generation }]
    : [...uid, { op: 'test', path: '/metadata/resourceVersion', value: m.resourceVersion }];
}

/** A change made on a cached read lost to a newer object: read it and decide again. */
export function staleCache(obj: KubeObject, f: Failed): boolean {
  return isCachedRead(obj) && lostRace(f);
}

export function dryRunParam(ctx: ActionContext): 'All' | undefined {
  return ctx.dryRun ? 'All' : undefined;
}

/** The Kubernetes checks of a target kind in `step.target`, if the step names one. */
export function validateTargetKind(step: Step, kinds: readonly string[]): string[] {
  const kind = step.target?.kind;
  if (kind !== undefined && !kinds.includes(kind))
    return [`target.kind: ${step.action} works on ${kinds.join(', ')}, not ${kind}`];
  return [];
}

export function validateParamsPresent(step: Step, key: keyof Step): string[] {
  return step[key] === undefined ? [`${String(key)}: parameters are required for action ${step.action}`] : [];
}

/** A value read from an object at a dotted path of keys. */
export function dig(obj: unknown, ...keys: string[]): unknown {
  let cur: unknown = obj;
  for (const k of keys) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

export function annotationsOf(obj: unknown, ...keys: string[]): Record<string, string> {
  return (dig(obj, ...keys, 'annotations') as Record<string, string> | undefined) ?? {};
}

/** Turns a Kubernetes label selector into the query-string form. */
export function selectorString(sel: unknown): string {
  const s = (sel ?? {}) as {
    matchLabels?: Record<string, string>;
    matchExpressions?: { key: string; operator: string; values?: string[] }[];
  };
  const parts = Object.entries(s.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of s.matchExpressions ?? []) {
    const vals = (e.values ?? []).join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${vals})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${vals})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
  }
  return parts.join(',');
}

export function isControlledBy(obj: KubeObject, ownerUid: string | undefined): boolean {
  return (obj.metadata?.ownerReferences ?? []).some((o) => o.controller === true && o.uid === ownerUid);
}
