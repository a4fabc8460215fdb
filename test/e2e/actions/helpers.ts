/** Running actions the way the reconciler does (plan → checkpoint → apply), for e2e tests. */
import type { Bounds, Remediation, Step, StepStatus } from '../../../src/api/v1alpha1/schema.js';
import type {
  ActionContext,
  ActionOutcome,
  PassReads,
  Plan,
  ResolvedTarget,
  TargetReader,
} from '../../../src/actions/types.js';
import { getAction } from '../../../src/actions/index.js';
import { systemClock } from '../../../src/util/clock.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { testClients } from '../../support/kube.js';

export interface CtxOptions {
  namespace: string;
  step: Omit<Step, 'name'> & { name?: string };
  target?: { kind: string; name: string; apiVersion?: string };
  bounds?: Bounds;
  dryRun?: boolean;
  stamp?: string;
  attempt?: number;
  /** plan()'s reads for apply() in the same pass, as the reconciler passes them. */
  reads?: PassReads;
  targets?: TargetReader;
}

export function actionCtx(o: CtxOptions): ActionContext {
  const remediation: Remediation = {
    apiVersion: 'kube-remediator.io/v1alpha1',
    kind: 'Remediation',
    metadata: { name: 'e2e', namespace: o.namespace, uid: 'e2e-uid' },
    spec: { alert: { name: 'E2E', labels: { alertname: 'E2E' } } },
  };
  const target: ResolvedTarget | undefined = o.target
    ? {
        apiVersion:
          o.target.apiVersion ??
          (o.target.kind === 'Pod' || o.target.kind === 'ConfigMap' ? 'v1' : 'apps/v1'),
        kind: o.target.kind,
        name: o.target.name,
        namespace: o.namespace,
      }
    : undefined;
  return {
    clients: testClients(),
    remediation,
    stepIndex: 0,
    step: { name: o.step.name ?? 'step', ...o.step },
    target,
    bounds: o.bounds,
    dryRun: o.dryRun ?? false,
    attempt: o.attempt ?? 1,
    stamp: o.stamp ?? `e2e-uid/0/${o.attempt ?? 1}`,
    clock: systemClock,
    log: silentLogger(),
    ...(o.reads ? { reads: o.reads } : {}),
    ...(o.targets ? { targets: o.targets } : {}),
    async readSecret(name, key) {
      const s = await testClients().core.readNamespacedSecret({ name, namespace: o.namespace });
      return Buffer.from(s.data?.[key] ?? '', 'base64').toString('utf8');
    },
  };
}

/** The checkpoint the reconciler would store between plan and apply. */
export function checkpoint(ctx: ActionContext, plan: Plan): StepStatus {
  return {
    name: ctx.step.name,
    action: ctx.step.action,
    phase: 'Running',
    attempt: ctx.attempt,
    before: plan.before,
    after: plan.after,
  };
}

export interface StepRun {
  plan: Plan;
  record: StepStatus;
  outcome?: ActionOutcome;
}

/** plan, checkpoint, apply, record the outcome; stops at a refused plan as the reconciler does. */
export async function runStep(ctx: ActionContext): Promise<StepRun> {
  const action = getAction(ctx.step.action);
  const plan = await action.plan(ctx);
  const record = checkpoint(ctx, plan);
  if (plan.refused) return { plan, record };
  ctx.reads?.startApply();
  const outcome = await action.apply(ctx, record);
  // As the reconciler does: a finished step records what apply reports (revert compares with `after`).
  if (outcome.kind === 'done') {
    if (outcome.before) record.before = outcome.before;
    if (outcome.after) record.after = outcome.after;
  }
  return { plan, record, outcome };
}

export async function revertStep(ctx: ActionContext, record: StepStatus): Promise<ActionOutcome> {
  return getAction(ctx.step.action).revert!(ctx, record);
}
