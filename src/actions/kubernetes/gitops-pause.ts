/**
 * gitopsPause: the step the controller puts first under `gitops.policy: Pause`. Its target is
 * the GitOps owner (an Argo CD Application, a Flux Kustomization or HelmRelease); it turns the
 * owner's self-heal off for the duration of the change and its revert turns it back on.
 *
 * Several Remediations may pause one owner at once (two Deployments of one Application). The
 * owner itself carries who holds the pause and the value before the first one paused it, in
 * two annotations, so that:
 * - the first pause records the exact prior value (`gitops-prior`) and sets the paused value;
 *   later ones only add their uid to `gitops-paused-by`;
 * - a revert removes its uid; the last one out restores the prior value and the annotations go;
 * - each write carries the resourceVersion it read (compare-and-swap), so two holders never
 *   lose each other's change;
 * - apply after a crash sees its uid already there and reports done (the stamp), and revert
 *   after a crash sees it gone.
 * A prior value a person changed meanwhile (the paused value is no longer there) is left alone.
 */
import * as k8s from '@kubernetes/client-node';
import { GROUP } from '../../api/v1alpha1/constants.js';
import type { Step, StepStatus } from '../../api/v1alpha1/schema.js';
import type { KubeObject, ObjectRef } from '../../kube/raw-object.js';
import { ERROR_CODES } from '../../util/errors.js';
import { done, failed, isFailed, planFailure, refusal, type Failed } from '../outcome.js';
import type { Action, ActionContext, ActionOutcome, Plan } from '../types.js';
import { attempt, FIELD_MANAGER, lostRace, raw, REVERT_TRIES } from './api.js';

export const PAUSE_ANNOTATIONS = {
  holders: `${GROUP}/gitops-paused-by`,
  prior: `${GROUP}/gitops-prior`,
} as const;

/** Where the self-heal switch is on each owner kind, and the value that pauses it. */
export interface PauseSwitch {
  /** JSON pointer. */
  path: string;
  paused: unknown;
  /** For messages. */
  label: string;
}

/** The switch of an owner, or why there is nothing to pause (pure). */
export function pauseSwitch(owner: KubeObject): PauseSwitch | { nothing: string } {
  const spec = (owner.spec ?? {}) as Record<string, unknown>;
  if (owner.kind === 'Application') {
    const automated = (spec.syncPolicy as Record<string, unknown> | undefined)?.automated as
      Record<string, unknown> | undefined;
    // Argo CD 3.x may keep `automated` with `enabled: false`: automated sync is off then.
    if (!automated || automated.enabled === false)
      return { nothing: 'the Application has no automated sync: Argo CD puts nothing back by itself' };
    return {
      path: '/spec/syncPolicy/automated/selfHeal',
      paused: false,
      label: 'spec.syncPolicy.automated.selfHeal',
    };
  }
  if (owner.kind === 'Kustomization' || owner.kind === 'HelmRelease')
    return { path: '/spec/suspend', paused: true, label: 'spec.suspend' };
  return {
    nothing: `kind ${String(owner.kind)} is not an Argo CD Application, Flux Kustomization or HelmRelease`,
  };
}

/** The value at a JSON pointer of `obj` (undefined when absent). */
function valueAt(obj: unknown, pointer: string): unknown {
  let cur: unknown = obj;
  for (const part of pointer.split('/').slice(1)) {
    if (!cur || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** `{value}` or `{absent: true}`: the exact prior state of the switch. */
export type Prior = { value: unknown } | { absent: true };

function priorOf(obj: KubeObject, path: string): Prior {
  const v = valueAt(obj, path);
  return v === undefined ? { absent: true } : { value: v };
}

export function holdersOf(obj: KubeObject): string[] {
  const v = obj.metadata?.annotations?.[PAUSE_ANNOTATIONS.holders] ?? '';
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function recordedPrior(obj: KubeObject): { path: string; prior: Prior } | undefined {
  const v = obj.metadata?.annotations?.[PAUSE_ANNOTATIONS.prior];
  if (!v) return undefined;
  try {
    const p = JSON.parse(v) as { path?: unknown; prior?: unknown };
    if (typeof p.path === 'string' && p.prior && typeof p.prior === 'object')
      return { path: p.path, prior: p.prior as Prior };
  } catch {
    // A person edited it: treated as no record (nothing restored from it).
  }
  return undefined;
}

/** JSON-pointer escaping of an annotation key. */
const esc = (k: string): string => k.replace(/~/g, '~0').replace(/\//g, '~1');

function ownerRef(ctx: ActionContext): ObjectRef | Failed {
  const t = ctx.target;
  if (!t) return failed(ERROR_CODES.invalidSpec, 'InvalidSpec', 'gitopsPause has no owner target', false);
  return t;
}

function me(ctx: ActionContext): string {
  return (
    ctx.remediation.metadata.uid ??
    `${ctx.remediation.metadata.namespace ?? ''}/${ctx.remediation.metadata.name ?? ''}`
  );
}

async function read(ctx: ActionContext, ref: ObjectRef): Promise<KubeObject | Failed> {
  return attempt(`${ref.kind} ${ref.namespace}/${ref.name}`, () => raw(ctx).get(ref));
}

async function send(ctx: ActionContext, ref: ObjectRef, ops: unknown[]): Promise<KubeObject | Failed> {
  return attempt(`${ref.kind} ${ref.namespace}/${ref.name}`, () =>
    raw(ctx).patchRaw(ref, ops, {
      contentType: k8s.PatchStrategy.JsonPatch,
      dryRun: ctx.dryRun,
      fieldManager: FIELD_MANAGER,
    }),
  );
}

/** The ops that set annotations (creating the map when there is none). */
function annotationOps(obj: KubeObject, set: Record<string, string | undefined>): unknown[] {
  const has = obj.metadata?.annotations !== undefined;
  if (!has) {
    const map = Object.fromEntries(Object.entries(set).filter(([, v]) => v !== undefined));
    return Object.keys(map).length ? [{ op: 'add', path: '/metadata/annotations', value: map }] : [];
  }
  const ops: unknown[] = [];
  for (const [k, v] of Object.entries(set)) {
    const path = `/metadata/annotations/${esc(k)}`;
    const present = obj.metadata?.annotations?.[k] !== undefined;
    if (v === undefined) {
      if (present) ops.push({ op: 'remove', path });
    } else ops.push({ op: present ? 'replace' : 'add', path, value: v });
  }
  return ops;
}

const rvTest = (obj: KubeObject): unknown => ({
  op: 'test',
  path: '/metadata/resourceVersion',
  value: obj.metadata?.resourceVersion,
});

export function planPause(obj: KubeObject, uid: string): Plan {
  const sw = pauseSwitch(obj);
  if ('nothing' in sw) return { before: {}, after: {} };
  const holders = holdersOf(obj);
  const rec = recordedPrior(obj);
  if (holders.length > 0 && rec) {
    return {
      before: { path: rec.path, prior: rec.prior, holders },
      after: { path: sw.path, value: sw.paused, holders: [...new Set([...holders, uid])] },
    };
  }
  return {
    before: { path: sw.path, prior: priorOf(obj, sw.path), holders: [] },
    after: { path: sw.path, value: sw.paused, holders: [uid] },
  };
}

async function plan(ctx: ActionContext): Promise<Plan> {
  const ref = ownerRef(ctx);
  if (isFailed(ref)) return refusal(ref.code, ref.reason, ref.message);
  const obj = await read(ctx, ref);
  if (isFailed(obj)) return planFailure(obj);
  return planPause(obj, me(ctx));
}

async function apply(ctx: ActionContext, _record: StepStatus): Promise<ActionOutcome> {
  const ref = ownerRef(ctx);
  if (isFailed(ref)) return ref;
  const uid = me(ctx);
  for (let n = 1; ; n++) {
    const obj = await read(ctx, ref);
    if (isFailed(obj)) return obj;
    const sw = pauseSwitch(obj);
    if ('nothing' in sw) return done(`nothing to pause: ${sw.nothing}`, { before: {}, after: {} });
    const holders = holdersOf(obj);
    const p = planPause(obj, uid);
    if (holders.includes(uid))
      return done(
        `${sw.label} of ${ref.kind} ${ref.namespace}/${ref.name} already paused by this remediation`,
        p,
      );
    const first = holders.length === 0 || !recordedPrior(obj);
    const ops: unknown[] = [rvTest(obj)];
    if (first) {
      ops.push(
        ...annotationOps(obj, {
          [PAUSE_ANNOTATIONS.holders]: uid,
          [PAUSE_ANNOTATIONS.prior]: JSON.stringify({ path: sw.path, prior: priorOf(obj, sw.path) }),
        }),
      );
      ops.push({
        op: valueAt(obj, sw.path) === undefined ? 'add' : 'replace',
        path: sw.path,
        value: sw.paused,
      });
    } else {
      ops.push(...annotationOps(obj, { [PAUSE_ANNOTATIONS.holders]: [...holders, uid].join(',') }));
    }
    const res = await send(ctx, ref, ops);
    if (isFailed(res)) {
      if (lostRace(res) && n < REVERT_TRIES) continue;
      return res;
    }
    const what = `${sw.label}=${JSON.stringify(sw.paused)} on ${ref.kind} ${ref.namespace}/${ref.name}`;
    const msg = ctx.dryRun
      ? `would set ${what}`
      : first
        ? `paused: ${what} (was ${describePrior(p.before?.prior as Prior)})`
        : `paused already by ${holders.length} other remediation(s); joined the pause`;
    return done(msg, { ...p, ...(ctx.dryRun ? { diff: { before: p.before, after: p.after } } : {}) });
  }
}

function describePrior(p: Prior | undefined): string {
  if (!p) return 'unknown';
  return 'absent' in p ? 'not set' : JSON.stringify(p.value);
}

async function revert(ctx: ActionContext, _record: StepStatus): Promise<ActionOutcome> {
  const ref = ownerRef(ctx);
  if (isFailed(ref)) return ref;
  const uid = me(ctx);
  for (let n = 1; ; n++) {
    const obj = await read(ctx, ref);
    if (isFailed(obj))
      return obj.reason === 'NotFound'
        ? done(`${ref.kind} ${ref.namespace}/${ref.name} is gone: nothing to restore`)
        : obj;
    const holders = holdersOf(obj);
    if (!holders.includes(uid))
      return done(`not holding the pause of ${ref.kind} ${ref.namespace}/${ref.name} (restored already)`);
    const rest = holders.filter((h) => h !== uid);
    const ops: unknown[] = [rvTest(obj)];
    let msg: string;
    if (rest.length > 0) {
      ops.push(...annotationOps(obj, { [PAUSE_ANNOTATIONS.holders]: rest.join(',') }));
      msg = `left the pause of ${ref.kind} ${ref.namespace}/${ref.name}; ${rest.length} other remediation(s) still hold it`;
    } else {
      const rec = recordedPrior(obj);
      ops.push(
        ...annotationOps(obj, {
          [PAUSE_ANNOTATIONS.holders]: undefined,
          [PAUSE_ANNOTATIONS.prior]: undefined,
        }),
      );
      const sw = pauseSwitch(obj);
      const label = 'nothing' in sw ? (rec?.path ?? '') : sw.label;
      if (!rec)
        msg = `no prior value recorded on ${ref.kind} ${ref.namespace}/${ref.name}; ${label} left as it is`;
      else if ('nothing' in sw || JSON.stringify(valueAt(obj, rec.path)) !== JSON.stringify(sw.paused)) {
        msg = `${label} of ${ref.kind} ${ref.namespace}/${ref.name} was changed by someone else during the pause; left as it is`;
      } else {
        ops.push({ op: 'test', path: rec.path, value: sw.paused });
        ops.push(
          'absent' in rec.prior
            ? { op: 'remove', path: rec.path }
            : { op: 'replace', path: rec.path, value: rec.prior.value },
        );
        msg = `restored ${label}=${describePrior(rec.prior)} on ${ref.kind} ${ref.namespace}/${ref.name}`;
      }
    }
    const res = await send(ctx, ref, ops);
    if (isFailed(res)) {
      if (lostRace(res) && n < REVERT_TRIES) continue;
      return res;
    }
    return done(msg, { after: { holders: rest } });
  }
}

export const gitopsPause: Action = {
  name: 'gitopsPause',
  mutating: true,
  reversible: true,
  validate(step: Step): string[] {
    // Only the controller adds it (gitops.policy: Pause): a Runbook that names it would pause
    // an owner without the restore rules that go with the policy.
    return step.action === 'gitopsPause'
      ? ['action: gitopsPause is added by the controller under gitops.policy: Pause; a Runbook cannot use it']
      : [];
  },
  plan,
  apply,
  revert,
};
