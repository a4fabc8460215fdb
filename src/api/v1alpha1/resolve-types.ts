/**
 * Work after resolve (a Runbook's `onResolve`): steps before the revert, a gate the revert waits
 * for (with a deadline), steps after it. Kept in its own file: the Runbook and the Remediation
 * record only name these types.
 */
import { Type, type Static } from '@sinclair/typebox';
import { DURATION, StringEnum } from './shared-types.js';
import { CheckList, Step } from './step-types.js';

/** What a revert gate that times out does. */
export const GATE_ON_TIMEOUT = ['Keep', 'Revert'] as const;
export type GateOnTimeout = (typeof GATE_ON_TIMEOUT)[number];

/** Most steps each of `onResolve.before` and `onResolve.after` may have. */
export const MAX_RESOLVE_STEPS = 20;

export const RevertGate = Type.Object(
  {
    checks: CheckList,
    interval: Type.Optional(
      Type.String({
        description: 'How often the checks are evaluated until they all pass, e.g. `15s`; default `15s`.',
        pattern: DURATION,
      }),
    ),
    timeout: Type.String({
      description:
        'How long the revert may wait for the checks, from the moment the gate starts, e.g. `30m`. Required: a gate without a deadline would hold the change forever without telling anyone.',
      pattern: DURATION,
    }),
    onTimeout: Type.Optional(
      StringEnum(
        GATE_ON_TIMEOUT,
        '`Keep`: do not revert; the run ends Reverted=False with reason RevertGateTimeout, a Warning Event and an audit row, and the change stays for a person (never switch back to a store that does not answer). `Revert`: revert anyway.',
        { default: 'Keep' },
      ),
    ),
  },
  {
    description:
      'What the revert waits for: every check must pass (Met). A check that is not met or cannot be read means "not yet". Recorded as the step `revert-gate` (action `waitUntil`) in `status.steps`.',
  },
);
export type RevertGate = Static<typeof RevertGate>;

export const OnResolve = Type.Object(
  {
    before: Type.Optional(
      Type.Array(Step, {
        description:
          'Steps run in order when the alert resolves (or a revert is asked for), before the gate and the revert, e.g. a `redisCheck` PING of the store to switch back to. A step that fails (after its retries, unless `continueOnFailure`) stops there: nothing is reverted, Reverted=False with reason ResolveStepFailed.',
        minItems: 1,
        maxItems: MAX_RESOLVE_STEPS,
      }),
    ),
    gate: Type.Optional(RevertGate),
    after: Type.Optional(
      Type.Array(Step, {
        description:
          'Steps run in order after the revert, e.g. an `httpCheck` of `/health`, or a traffic ramp with `hold` steps between. A step that fails ends the run Reverted=False with reason ResolveStepFailed (the revert itself is done).',
        minItems: 1,
        maxItems: MAX_RESOLVE_STEPS,
      }),
    ),
  },
  {
    description:
      'Work when the alert resolves (or the `kube-remediator.io/revert=true` annotation asks for the revert): `before` steps, then the `gate`, then the revert of the `revertOnResolve` steps, then `after` steps. Copied (params rendered) into `status.steps` with the other steps at start, each record marked with its `stage`. Not run for `onFailure.revert` nor for dry runs.',
  },
);
export type OnResolve = Static<typeof OnResolve>;

/** Where a step record belongs: the run, or a stage of the work after resolve. */
export const STEP_STAGES = ['BeforeRevert', 'RevertGate', 'AfterRevert'] as const;
export type StepStage = (typeof STEP_STAGES)[number];

/** The name of the step record that runs `onResolve.gate`. */
export const REVERT_GATE_STEP = 'revert-gate';
