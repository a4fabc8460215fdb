/**
 * The `rollout` member of a Check: a read of the step's target, "did it roll out within
 * `changedWithin` (and is that rollout not ready)?", the data-storage seed's "roll back only if
 * a deploy is the cause". The age of the newest rollout is the creation time of the workload's
 * newest revision: for a Deployment its ReplicaSet with the highest
 * `deployment.kubernetes.io/revision`, for a StatefulSet or DaemonSet its ControllerRevision of
 * the highest revision. A rollback re-uses an older revision object, so a rollback is not a
 * new rollout here (it does not make a guard of "a deploy is the cause" pass).
 */
import type { RolloutCheckParams } from '../../api/v1alpha1/schema.js';
import { ERROR_CODES, errorMessage } from '../../util/errors.js';
import { formatDuration, parseDuration } from '../../util/duration.js';
import { RawObjectApi, type KubeObject } from '../../kube/raw-object.js';
import { failed } from '../outcome.js';
import { WORKLOAD_KINDS, dig, isControlledBy, selectorString } from '../kubernetes/workload.js';
import { replicaSetRevision } from '../kubernetes/rollout-undo.js';
import { rolloutState } from './wait-for-rollout.js';
import { apiErrorMessage } from '../../kube/client.js';
import {
  broken,
  met,
  notMet,
  troubled,
  type CheckContext,
  type ReadOptions,
  type Reading,
} from './reading.js';

/** The parameters' problems, as `rollout.<field>: ...`. */
export function rolloutCheckProblems(p: RolloutCheckParams): string[] {
  try {
    if (parseDuration(p.changedWithin) <= 0) return ['rollout.changedWithin: must be longer than 0'];
  } catch (err) {
    return [`rollout.changedWithin: ${errorMessage(err)}`];
  }
  return [];
}

/** The newest revision object controlled by `workload` (pure). */
export function newestRevision(workload: KubeObject, items: readonly KubeObject[]): KubeObject | undefined {
  const isDeployment = workload.kind === 'Deployment';
  const revision = (i: KubeObject): number =>
    isDeployment ? replicaSetRevision(i) : Number(i.revision ?? 0);
  let best: KubeObject | undefined;
  for (const i of items) {
    if (!isControlledBy(i, workload.metadata?.uid)) continue;
    if (!best || revision(i) > revision(best)) best = i;
  }
  return best;
}

/**
 * The verdict on what was read (pure): Met when the newest revision is younger than
 * `changedWithin` (and, with `notReady`, the rollout is not complete and ready).
 */
export function rolloutVerdict(
  p: RolloutCheckParams,
  workload: KubeObject,
  newest: KubeObject | undefined,
  now: Date,
): Reading {
  const name = `${workload.kind ?? ''} ${workload.metadata?.name ?? ''}`;
  const created = Date.parse(stringAt(newest, 'metadata', 'creationTimestamp'));
  if (!newest || Number.isNaN(created)) return notMet(`${name}: no rollout found`, undefined, 'NoRollout');
  const age = Math.max(0, now.getTime() - created);
  const within = parseDuration(p.changedWithin);
  const output = { revision: newest.metadata?.name ?? '', age: formatDuration(age) };
  if (age >= within)
    return notMet(
      `${name}: last rollout (${newest.metadata?.name ?? ''}) is ${formatDuration(age)} old, not younger than ${p.changedWithin}`,
      output,
      'RolloutTooOld',
    );
  if (p.notReady) {
    const state = rolloutState(workload, []);
    if (state.done)
      return notMet(
        `${name}: rolled out ${formatDuration(age)} ago and the rollout is complete and ready`,
        output,
        'RolloutReady',
      );
    return met(`${name}: rolled out ${formatDuration(age)} ago and not ready: ${state.message}`, output);
  }
  return met(`${name}: rolled out ${formatDuration(age)} ago (${newest.metadata?.name ?? ''})`, {
    text: JSON.stringify(output),
  });
}

function stringAt(obj: unknown, ...keys: string[]): string {
  const v = dig(obj, ...keys);
  return typeof v === 'string' ? v : '';
}

export async function readRollout(
  ctx: CheckContext,
  p: RolloutCheckParams,
  _opts: ReadOptions,
): Promise<Reading> {
  const t = ctx.target;
  if (!t || !(WORKLOAD_KINDS as readonly string[]).includes(t.kind))
    return broken(
      failed(
        ERROR_CODES.invalidSpec,
        'NotAWorkload',
        `a rollout check reads a Deployment, StatefulSet or DaemonSet target; got ${t ? t.kind : 'no target'}`,
        false,
      ),
    );
  const api = RawObjectApi.forConfig(ctx.clients.kc);
  let workload: KubeObject;
  let items: KubeObject[];
  try {
    workload = { kind: t.kind, ...(await api.get(t)) };
    items = (
      await api.listIn(
        {
          apiVersion: 'apps/v1',
          kind: t.kind === 'Deployment' ? 'ReplicaSet' : 'ControllerRevision',
          namespace: t.namespace,
        },
        selectorString(dig(workload, 'spec', 'selector')),
      )
    ).items;
  } catch (err) {
    return troubled(`${t.kind} ${t.namespace}/${t.name}: ${apiErrorMessage(err)}`);
  }
  return rolloutVerdict(p, workload, newestRevision(workload, items), ctx.clock?.now() ?? new Date());
}
