/**
 * setEnv: set or unset variables on containers of a workload's pod template.
 *
 * `before` records, per container and variable, exactly what was there: a value, a valueFrom,
 * or nothing, plus its position (env order matters for `$(VAR)` expansion). apply and revert
 * both compute the whole desired env list from the object they just read and send it as a
 * JSON patch guarded by a `test` of the container's name, so repeating either is harmless.
 *
 * revert is compare-and-swap: it restores a variable only while it still holds what the step
 * set (`after`); one already back at `before` needs nothing, and any other value (a person, a
 * later step or another remediation changed it) refuses the whole revert with ChangedSince.
 * The patch also `test`s the env list it was computed from, so a change in between is seen.
 */
import { PatchStrategy } from '@kubernetes/client-node';
import type { Action, ActionContext, ActionOutcome, Plan, ResolvedTarget } from '../types.js';
import type { Step, StepStatus } from '../../api/v1alpha1/schema.js';
import { ERROR_CODES } from '../../util/errors.js';
import { FIELD_MANAGER, attempt, changedSince, guardedJsonPatch, raw } from './api.js';
import { WORKLOAD_KINDS, dig, requireWorkload, validateTargetKind } from './workload.js';
import { describeTarget, requireParams, validateParamsPresent } from '../step-input.js';
import { done, failed, isFailed, refusal } from '../outcome.js';
import { isCachedRead, planOnCached, readLive, readObject, sameSpecTests, staleCache } from './reads.js';
import { stableJson } from './json-pointer.js';
import { joinPointer } from './json-pointer.js';
import type { JsonPatchOp } from './patch-paths.js';
import type { KubeObject } from '../../kube/raw-object.js';

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: Record<string, unknown>;
}

/** The state of one variable: set with a value, set from a source, or absent. */
export type EnvState =
  | { value: string; index?: number }
  | { valueFrom: Record<string, unknown>; index?: number }
  | { absent: true };
/** container name → variable name → state */
export type EnvRecord = Record<string, Record<string, EnvState>>;

export interface EnvChange {
  name: string;
  value?: string;
  unset?: boolean;
}

interface Container {
  name: string;
  env?: EnvVar[];
}

/** A named container is not on the workload (any more): not retried. */
function containerNotFound(ref: ResolvedTarget, error: string): ActionOutcome {
  return failed(ERROR_CODES.actionFailed, 'ContainerNotFound', `${describeTarget(ref)}: ${error}`, false);
}

export function stateOf(env: readonly EnvVar[] | undefined, name: string): EnvState {
  const index = (env ?? []).findIndex((e) => e.name === name);
  const v = index >= 0 ? env![index]! : undefined;
  if (!v) return { absent: true };
  if (v.valueFrom !== undefined) return { valueFrom: v.valueFrom, index };
  return { value: v.value ?? '', index };
}

function wanted(change: EnvChange): EnvState {
  return change.unset ? { absent: true } : { value: change.value ?? '' };
}

/** Which containers to change: the named ones, or all. Unknown names are an error. */
export function selectContainers(
  containers: readonly Container[],
  names: readonly string[] | undefined,
): { names: string[] } | { error: string } {
  if (!names || names.length === 0) return { names: containers.map((c) => c.name) };
  const missing = names.filter((n) => !containers.some((c) => c.name === n));
  if (missing.length) {
    return {
      error: `container(s) ${missing.join(', ')} not in the pod template (has ${containers.map((c) => c.name).join(', ')})`,
    };
  }
  return { names: [...names] };
}

/** before/after for the step, from the observed containers (pure). */
export function planEnv(
  containers: readonly Container[],
  params: { containers?: string[]; env: EnvChange[] },
): Plan {
  const sel = selectContainers(containers, params.containers);
  if ('error' in sel)
    return refusal(ERROR_CODES.invalidParam, 'ContainerNotFound', `setEnv.containers: ${sel.error}`);
  const before: EnvRecord = {};
  const after: EnvRecord = {};
  for (const name of sel.names) {
    const env = containers.find((c) => c.name === name)?.env;
    before[name] = Object.fromEntries(params.env.map((c) => [c.name, stateOf(env, c.name)]));
    after[name] = Object.fromEntries(params.env.map((c) => [c.name, wanted(c)]));
  }
  return { before: { containers: before }, after: { containers: after } };
}

/** The env list with the given states written in; present variables keep their position. */
export function applyEnvStates(
  env: readonly EnvVar[] | undefined,
  states: Record<string, EnvState>,
): EnvVar[] {
  let out = [...(env ?? [])];
  const inserts: { at: number; v: EnvVar }[] = [];
  for (const [name, state] of Object.entries(states)) {
    if ('absent' in state) {
      out = out.filter((e) => e.name !== name);
      continue;
    }
    const v: EnvVar =
      'valueFrom' in state ? { name, valueFrom: state.valueFrom } : { name, value: state.value };
    const i = out.findIndex((e) => e.name === name);
    if (i >= 0) out[i] = v;
    else inserts.push({ at: state.index ?? Number.MAX_SAFE_INTEGER, v });
  }
  for (const { at, v } of inserts.sort((a, b) => a.at - b.at)) out.splice(Math.min(at, out.length), 0, v);
  return out;
}

/** The API server drops empty values, so `{name}` and `{name, value: ''}` are the same. */
function sameEnv(a: readonly EnvVar[] | undefined, b: readonly EnvVar[]): boolean {
  const norm = (env: readonly EnvVar[]): string =>
    stableJson(env.map((e) => ({ name: e.name, value: e.value || undefined, valueFrom: e.valueFrom })));
  return norm(a ?? []) === norm(b);
}

function sameState(a: EnvState, b: EnvState | undefined): boolean {
  if (b === undefined) return false;
  if ('absent' in a || 'absent' in b) return 'absent' in a && 'absent' in b;
  if ('valueFrom' in a || 'valueFrom' in b)
    return 'valueFrom' in a && 'valueFrom' in b && stableJson(a.valueFrom) === stableJson(b.valueFrom);
  return a.value === b.value;
}

export function describeState(s: EnvState | undefined): string {
  if (s === undefined) return 'nothing recorded';
  if ('absent' in s) return 'unset';
  if ('valueFrom' in s) return `valueFrom ${stableJson(s.valueFrom)}`;
  return JSON.stringify(s.value);
}

/**
 * What a revert may restore (pure): the variables that still hold the step's `after`, with
 * their `before`. Variables already back at `before` are left out; any other value is a
 * change since the step, and the revert is refused as a whole.
 */
export function revertEnvPlan(
  containers: readonly Container[],
  before: EnvRecord,
  after: EnvRecord | undefined,
): { restore: EnvRecord } | { changed: string } | { error: string } {
  const restore: EnvRecord = {};
  for (const [name, states] of Object.entries(before)) {
    const c = containers.find((x) => x.name === name);
    if (!c) return { error: `container ${name} is no longer in the pod template` };
    for (const [v, was] of Object.entries(states)) {
      const now = stateOf(c.env, v);
      if (sameState(now, was)) continue;
      const set = after?.[name]?.[v];
      if (!sameState(now, set))
        return {
          changed: `env ${v} of container ${name} changed since the step (now ${describeState(now)}, step set ${describeState(set)}); not reverted`,
        };
      (restore[name] ??= {})[v] = was;
    }
  }
  return { restore };
}

/**
 * JSON patch ops that write `record` onto the observed containers; [] when already so.
 * With `guard`, each rewritten env list is first `test`ed against the one observed.
 */
export function envOps(
  containers: readonly Container[],
  record: EnvRecord,
  guard = false,
): JsonPatchOp[] | { error: string } {
  const ops: JsonPatchOp[] = [];
  for (const [name, states] of Object.entries(record)) {
    const i = containers.findIndex((c) => c.name === name);
    if (i < 0) return { error: `container ${name} is no longer in the pod template` };
    const next = applyEnvStates(containers[i]!.env, states);
    if (sameEnv(containers[i]!.env, next)) continue;
    const base = ['spec', 'template', 'spec', 'containers', i];
    ops.push({ op: 'test', path: joinPointer([...base, 'name']), value: name });
    if (guard && containers[i]!.env !== undefined)
      ops.push({ op: 'test', path: joinPointer([...base, 'env']), value: containers[i]!.env });
    ops.push({ op: 'add', path: joinPointer([...base, 'env']), value: next });
  }
  return ops;
}

export function validateSetEnv(step: Step): string[] {
  const missing = validateParamsPresent(step, 'setEnv');
  if (missing.length) return missing;
  const errors = validateTargetKind(step, WORKLOAD_KINDS);
  const env = step.setEnv?.env ?? [];
  if (env.length === 0) errors.push('setEnv.env: at least one variable is required');
  env.forEach((e, i) => {
    if (e.unset && e.value !== undefined)
      errors.push(`setEnv.env[${i}]: give either value or unset: true, not both`);
    if (!e.unset && e.value === undefined)
      errors.push(`setEnv.env[${i}].value: required unless unset is true`);
  });
  const names = env.map((e) => e.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) errors.push(`setEnv.env: variable ${dup} is listed twice`);
  return errors;
}

function containersOf(obj: KubeObject): Container[] {
  return (dig(obj, 'spec', 'template', 'spec', 'containers') as Container[] | undefined) ?? [];
}

async function plan(ctx: ActionContext): Promise<Plan> {
  const ref = requireWorkload(ctx);
  if (isFailed(ref)) return refusal(ref.code, ref.reason, ref.message);
  const params = requireParams(ctx, 'setEnv');
  if (isFailed(params)) return refusal(params.code, params.reason, params.message);
  return planOnCached(ctx, ref, (obj) => planEnv(containersOf(obj), params));
}

/** The observed states of the variables `want` names (pure). */
function priorOf(containers: readonly Container[], want: EnvRecord): EnvRecord {
  const out: EnvRecord = {};
  for (const [name, vars] of Object.entries(want)) {
    const env = containers.find((c) => c.name === name)?.env;
    out[name] = Object.fromEntries(Object.keys(vars).map((v) => [v, stateOf(env, v)]));
  }
  return out;
}

function recordOf(record: StepStatus, key: 'before' | 'after'): EnvRecord | undefined {
  return record[key]?.containers as EnvRecord | undefined;
}

/** Reads the workload and writes `want` onto it; shared by apply and revert. */
async function writeEnv(
  ctx: ActionContext,
  want: EnvRecord,
  verb: string,
  from: EnvRecord | undefined,
): Promise<ActionOutcome> {
  const ref = requireWorkload(ctx);
  if (isFailed(ref)) return ref;
  let obj = await readObject(ctx, ref);
  let before = { containers: from ?? {} };
  const after = { containers: want };
  for (;;) {
    if (isFailed(obj)) return obj;
    const ops = envOps(containersOf(obj), want);
    if ('error' in ops) return containerNotFound(ref, ops.error);
    if (ops.length === 0) {
      // "Already set" on the cache may be the cache lagging behind: ask the API server.
      if (isCachedRead(obj)) {
        obj = await readLive(ctx, ref);
        continue;
      }
      // Set already (by this step before a crash, or by someone): the recorded before stays.
      return done(`${describeTarget(ref)}: env already ${verb === 'set' ? 'set' : 'restored'}`, {
        before,
        after,
      });
    }
    // What this very change overwrites (a resumed step reads afresh: someone may have changed it since).
    before = { containers: priorOf(containersOf(obj), want) };
    // Planned on the cache: only onto the spec it saw (the ops index into its env lists).
    const guarded = isCachedRead(obj) ? [...sameSpecTests(obj), ...ops] : ops;
    const res = await attempt(describeTarget(ref), () =>
      raw(ctx).patchRaw(ref, guarded, {
        contentType: PatchStrategy.JsonPatch,
        dryRun: ctx.dryRun,
        fieldManager: FIELD_MANAGER,
      }),
    );
    if (isFailed(res) && staleCache(obj, res)) {
      // The cache was behind: work on the object itself.
      obj = await readLive(ctx, ref);
      continue;
    }
    if (isFailed(res)) return res;
    break;
  }
  const vars = [...new Set(Object.values(want).flatMap((s) => Object.keys(s)))].join(', ');
  if (ctx.dryRun)
    return done(`would ${verb} env ${vars} on ${describeTarget(ref)}`, {
      before,
      after,
      diff: { before, after },
    });
  return done(`${verb === 'set' ? 'set' : 'restored'} env ${vars} on ${describeTarget(ref)}`, {
    before,
    after,
  });
}

async function apply(ctx: ActionContext, record: StepStatus): Promise<ActionOutcome> {
  const want = recordOf(record, 'after');
  if (!want)
    return failed(
      ERROR_CODES.invalidSpec,
      'NothingPlanned',
      'the step has no planned env (record.after.containers)',
      false,
    );
  return writeEnv(ctx, want, 'set', recordOf(record, 'before'));
}

/** How many times a revert re-reads and retries when its guarded patch loses a race. */

async function revert(ctx: ActionContext, record: StepStatus): Promise<ActionOutcome> {
  const prior = recordOf(record, 'before');
  if (!prior)
    return failed(
      ERROR_CODES.invalidSpec,
      'NothingRecorded',
      'no prior env was recorded, so there is nothing to restore',
      false,
    );
  const ref = requireWorkload(ctx);
  if (isFailed(ref)) return ref;
  const setBy = recordOf(record, 'after');
  const vars = [...new Set(Object.values(prior).flatMap((s) => Object.keys(s)))].join(', ');
  const outcome = { before: { containers: setBy ?? {} }, after: { containers: prior } };
  for (let n = 1; ; n++) {
    const obj = await readObject(ctx, ref);
    if (isFailed(obj)) return obj;
    const containers = containersOf(obj);
    const decided = revertEnvPlan(containers, prior, setBy);
    if ('error' in decided) return containerNotFound(ref, decided.error);
    if ('changed' in decided) return changedSince(`${describeTarget(ref)}: ${decided.changed}`);
    const ops = envOps(containers, decided.restore, true);
    if ('error' in ops) return containerNotFound(ref, ops.error);
    if (ops.length === 0) return done(`${describeTarget(ref)}: env already restored`, outcome);
    const res = await guardedJsonPatch(ctx, ref, ops, describeTarget(ref), n);
    if (res === 'retry') continue;
    if (isFailed(res)) return res;
    if (ctx.dryRun)
      return done(`would restore env ${vars} on ${describeTarget(ref)}`, { ...outcome, diff: outcome });
    return done(`restored env ${vars} on ${describeTarget(ref)}`, outcome);
  }
}

/**
 * Before the revert's checkpoint: whether it has anything to send. Ten Remediations that set
 * the same variable on one Deployment: nine of their reverts find the value in place already.
 * A GET (recorded for revert() in the same pass), never the cache: "already restored" is the
 * one answer a lagging cache could give wrongly. Anything revert() would refuse or fail on
 * (the value changed since, a container gone) is left to it: undefined.
 */
async function checkRevert(ctx: ActionContext, record: StepStatus): Promise<string | undefined> {
  const prior = recordOf(record, 'before');
  const ref = requireWorkload(ctx);
  if (!prior || isFailed(ref)) return undefined;
  const obj = await readLive(ctx, ref);
  if (isFailed(obj)) return undefined;
  const containers = containersOf(obj);
  const decided = revertEnvPlan(containers, prior, recordOf(record, 'after'));
  if ('error' in decided || 'changed' in decided) return undefined;
  const ops = envOps(containers, decided.restore, true);
  if ('error' in ops || ops.length > 0) return undefined;
  return `${describeTarget(ref)}: env already restored`;
}

export const setEnv: Action = {
  name: 'setEnv',
  mutating: true,
  reversible: true,
  validate: validateSetEnv,
  plan,
  apply,
  revert,
  checkRevert,
};
