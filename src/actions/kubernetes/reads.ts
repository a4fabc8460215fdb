/**
 * How actions read their targets: plan()'s read handed to apply() in the same pass, the target
 * cache for plan() (a guess apply() confirms), a GET otherwise.
 */
import type { ActionContext, Plan } from '../types.js';
import type { KubeObject, ObjectRef } from '../../kube/raw-object.js';
import { isFailed, planFailure, type Failed } from '../outcome.js';
import { attempt, lostRace, raw } from './api.js';

/** Objects readObject handed out from the target cache (copies; see isCachedRead). */
const cachedReads = new WeakSet<object>();

/**
 * The object came from the target cache, which may be a moment behind: a change based on it
 * must carry its resourceVersion as a precondition, and a refusal based on it must be
 * confirmed by reading the API server (see runtime/target-cache.ts).
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
