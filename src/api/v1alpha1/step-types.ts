/**
 * Steps, the part of the API both kinds carry: a Runbook's `spec.steps`, a Remediation's inline
 * `spec.steps`, and the rendered copy in `status.steps[].spec`. One parameter member per action.
 */
import { Type, type Static, type TOptional, type TString } from '@sinclair/typebox';
import {
  DNS1123_LABEL,
  DURATION,
  StringEnum,
  StringMap,
  TEMPLATED_NAME,
  TargetRef,
  ValueFrom,
} from './shared-types.js';
import { ApprovalPolicy, GUARD_ON_ERROR, GUARD_ON_NOT_MET } from './gate-types.js';

export const ACTIONS = [
  'rolloutRestart',
  'scale',
  'setEnv',
  'patch',
  'rolloutUndo',
  'deletePod',
  'waitForRollout',
  'httpCheck',
  'httpCall',
  'redisCheck',
  'redisCommand',
  'postgresCheck',
  'postgresQuery',
  'prometheusQuery',
  'notify',
  'silence',
  'podLogs',
  'hold',
  'waitUntil',
  'gitopsPause',
] as const;
export type ActionName = (typeof ACTIONS)[number];

/**
 * Actions that only look: they confirm that the changes before them worked (or, podLogs, record
 * what the workload says). A Remediation whose remaining steps are all of these, after at least
 * one change, is `Verifying`.
 */
export const CHECK_ACTIONS: ReadonlySet<ActionName> = new Set<ActionName>([
  'waitForRollout',
  'httpCheck',
  'redisCheck',
  'postgresCheck',
  'prometheusQuery',
  'podLogs',
  'hold',
  'waitUntil',
]);

// ---------------------------------------------------------------------------------------
// action parameters: one optional member per action, named after it (the Kubernetes
// "one-of" style); Runbook validation checks that the member for `action` is there.

const ScaleParams = Type.Object(
  {
    replicas: Type.Integer({
      description: 'Desired replica count; 0 scales the workload down to nothing.',
      minimum: 0,
      maximum: 10000,
    }),
  },
  {
    description:
      'Parameters of the `scale` action: set replicas through the scale subresource, recording the prior count.',
  },
);

const EnvVarChange = Type.Object(
  {
    name: Type.String({
      description: 'Name of the environment variable.',
      pattern: '^[-._a-zA-Z][-._a-zA-Z0-9]*$',
      maxLength: 253,
    }),
    value: Type.Optional(
      Type.String({
        description: 'Value to set. May use params. Omit together with `unset: true` to remove the variable.',
        maxLength: 32768,
      }),
    ),
    unset: Type.Optional(Type.Boolean({ description: 'Remove the variable instead of setting it.' })),
  },
  { description: 'One environment variable to set or remove.' },
);

const SetEnvParams = Type.Object(
  {
    containers: Type.Optional(
      Type.Array(Type.String({ pattern: DNS1123_LABEL, maxLength: 63 }), {
        description: 'Names of the containers to change; all containers of the pod template when empty.',
        maxItems: 32,
      }),
    ),
    env: Type.Array(EnvVarChange, {
      description: 'The variables to set or remove.',
      minItems: 1,
      maxItems: 64,
    }),
  },
  {
    description:
      'Parameters of the `setEnv` action: set or unset env vars on a workload, recording the exact prior state (value, valueFrom or absent).',
  },
);

const PatchParams = Type.Object(
  {
    type: StringEnum(
      ['merge', 'strategic', 'json'] as const,
      'Patch type: JSON merge patch (RFC 7386), strategic merge patch (built-in kinds only) or JSON patch (RFC 6902).',
      { default: 'strategic' },
    ),
    patch: Type.Unknown({
      description:
        'The patch body: an object for merge/strategic, a list of operations for json. String values may use params.',
      'x-kubernetes-preserve-unknown-fields': true,
    }),
  },
  {
    description:
      'Parameters of the `patch` action. The patch is checked against `safety.bounds` before it is sent.',
  },
);

const RolloutUndoParams = Type.Object(
  {
    toRevision: Type.Optional(
      Type.Integer({
        description:
          'Revision to roll back to; 0 or absent means the previous revision (as `kubectl rollout undo`).',
        minimum: 0,
      }),
    ),
  },
  { description: 'Parameters of the `rolloutUndo` action.' },
);

const DeletePodParams = Type.Object(
  {
    names: Type.Optional(
      Type.Array(Type.String({ pattern: TEMPLATED_NAME, maxLength: 253 }), {
        description: 'Pod names to delete. May use params.',
        maxItems: 100,
      }),
    ),
    labelSelector: Type.Optional(
      Type.String({
        description: 'Label selector of the pods to delete, e.g. `app=redis`.',
        maxLength: 1024,
      }),
    ),
    maxCount: Type.Integer({
      description: 'Refuse to delete more pods than this in one step.',
      minimum: 1,
      maximum: 100,
      default: 1,
    }),
  },
  { description: 'Parameters of the `deletePod` action: by `names` or by `labelSelector` (one of them).' },
);

const WaitForRolloutParams = Type.Object(
  {},
  { description: 'Parameters of the `waitForRollout` action: none; the step `timeout` bounds the wait.' },
);

export const HttpCheckParams = Type.Object(
  {
    url: Type.String({
      description: 'URL to request. May use params.',
      pattern: '^https?://',
      maxLength: 2048,
    }),
    method: Type.Optional(StringEnum(['GET', 'HEAD', 'POST'] as const, 'HTTP method.', { default: 'GET' })),
    expectStatus: Type.Optional(
      Type.Array(Type.Integer({ minimum: 100, maximum: 599 }), {
        description: 'Acceptable status codes; default any 2xx.',
        maxItems: 20,
      }),
    ),
    bodyContains: Type.Optional(
      Type.String({
        description: 'The check passes only if the response body contains this text.',
        maxLength: 1024,
      }),
    ),
  },
  { description: 'Parameters of the `httpCheck` action: passes when the response matches.' },
);
export type HttpCheckParams = Static<typeof HttpCheckParams>;

/** Bounds of what a step records in `status.steps[i].output` (see actions/output.ts). */
export const OUTPUT_LIMITS = {
  /** redisCheck replies, postgresCheck rows, httpCall bodies. */
  replyBytes: 4096,
  recordRows: 20,
  podLogsBytes: 32768,
  tailLines: 1000,
  maxPods: 10,
} as const;

const JsonAssertion = Type.Object(
  {
    path: Type.String({
      description:
        "A JSONPath singular query (RFC 9535): `$` then `.name`, `['name']` or `[index]` parts, e.g. `$.duplicate` or `$.items[0].state`. No wildcards or filters.",
      pattern: '^\\$',
      minLength: 1,
      maxLength: 512,
    }),
    equals: Type.String({
      description:
        'The value the path must hold, as text: a string as it is, a number, `true`, `false` or `null` as JSON writes them, an object or list as compact JSON.',
      maxLength: 1024,
    }),
  },
  { description: 'One field of a JSON response that must hold a value.' },
);

const HttpExpect = Type.Object(
  {
    status: Type.Optional(
      Type.Array(Type.Integer({ minimum: 100, maximum: 599 }), {
        description: 'Acceptable status codes; default any 2xx.',
        minItems: 1,
        maxItems: 20,
      }),
    ),
    json: Type.Optional(
      Type.Array(JsonAssertion, {
        description: 'Fields of the JSON response body that must hold the given values; all must hold.',
        minItems: 1,
        maxItems: 10,
      }),
    ),
    bodyContains: Type.Optional(
      Type.String({ description: 'Text the response body must contain.', minLength: 1, maxLength: 1024 }),
    ),
  },
  {
    description:
      "What the response must be for the call to succeed. The status and the start of the body (4 KiB at most, secrets and URL credentials masked) are recorded in the step's `output`. A response that does not match fails the step without a retry (the call was made: repeating it is for a person to decide).",
  },
);

const HttpCallParams = Type.Object(
  {
    url: Type.String({ description: 'URL to call. May use params.', pattern: '^https?://', maxLength: 2048 }),
    method: Type.Optional(
      StringEnum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const, 'HTTP method.', { default: 'POST' }),
    ),
    headers: Type.Optional(StringMap('Request headers.')),
    body: Type.Optional(Type.String({ description: 'Request body. May use params.', maxLength: 65536 })),
    expectStatus: Type.Optional(
      Type.Array(Type.Integer({ minimum: 100, maximum: 599 }), {
        description: 'Acceptable status codes; default any 2xx. Or `expect.status` (not both).',
        maxItems: 20,
      }),
    ),
    expect: Type.Optional(HttpExpect),
  },
  {
    description:
      "Parameters of the `httpCall` action. The request carries the step's stamp (`<remediation uid>/<step>/<attempt>`) as its `Idempotency-Key` header unless `headers` sets one: a crash between sending and recording repeats the call with the same key.",
  },
);

const ConnectionFields = {
  url: Type.Optional(
    Type.String({
      description:
        'Connection URL, e.g. `redis://redis.dash:6379/0` or `postgres://user@db:5432/app`. Prefer `urlFrom` when it holds a password.',
      maxLength: 2048,
    }),
  ),
  urlFrom: Type.Optional(ValueFrom),
};

/** Expectations on a reply's text, shared by redisCheck and postgresCheck. */
function TextExpectFields(what: string): {
  expectContains: TOptional<TString>;
  expectMatch: TOptional<TString>;
} {
  return {
    expectContains: Type.Optional(
      Type.String({
        description: `Text the ${what} must contain, e.g. \`aof_last_write_status:ok\`.`,
        minLength: 1,
        maxLength: 1024,
      }),
    ),
    expectMatch: Type.Optional(
      Type.String({
        description: `A regular expression (RE2 syntax, matched anywhere in the ${what}; \`(?m)^...$\` for one line) the ${what} must match, e.g. \`(?m)^rdb_last_bgsave_status:ok\\r?$\`.`,
        minLength: 1,
        maxLength: 1024,
      }),
    ),
  };
}

export const RedisCheckParams = Type.Object(
  {
    ...ConnectionFields,
    command: Type.Optional(
      Type.Array(Type.String({ maxLength: 1024 }), {
        description: 'Command and arguments; default `PING`.',
        maxItems: 32,
      }),
    ),
    expect: Type.Optional(
      Type.String({
        description: 'Expected reply, exactly, e.g. `PONG` (the default for PING).',
        maxLength: 1024,
      }),
    ),
    ...TextExpectFields('reply'),
    record: Type.Optional(
      Type.Boolean({
        description:
          "Record the reply in the step's `output` (`{reply}`; 4 KiB at most, the cut marked `truncated`), e.g. `INFO persistence` before a restart, for the person who looks later.",
        default: false,
      }),
    ),
  },
  {
    description:
      'Parameters of the `redisCheck` action: passes when the reply satisfies every expectation given (`expect`, `expectContains`, `expectMatch`).',
  },
);
export type RedisCheckParams = Static<typeof RedisCheckParams>;

const RedisCommandParams = Type.Object(
  {
    ...ConnectionFields,
    command: Type.Array(Type.String({ maxLength: 1024 }), {
      description: 'Command and arguments, e.g. `[DEL, dash:queue:dead]`.',
      minItems: 1,
      maxItems: 32,
    }),
  },
  { description: 'Parameters of the `redisCommand` action.' },
);

export const PostgresCheckParams = Type.Object(
  {
    ...ConnectionFields,
    query: Type.Optional(Type.String({ description: 'Query to run; default `SELECT 1`.', maxLength: 8192 })),
    expect: Type.Optional(
      Type.String({
        description: 'Expected value of the first column of the first row, as text.',
        maxLength: 1024,
      }),
    ),
    ...TextExpectFields('first column of the first row'),
    recordRows: Type.Optional(
      Type.Integer({
        description:
          "Record the first N rows in the step's `output` (`{columns, rows, rowCount}`; values as text, 4 KiB in all at most, secrets masked), e.g. of `pg_stat_activity`. 0 records nothing.",
        minimum: 0,
        maximum: 20,
        default: 0,
      }),
    ),
  },
  {
    description:
      'Parameters of the `postgresCheck` action: one read-only statement that passes when its first value satisfies every expectation given.',
  },
);
export type PostgresCheckParams = Static<typeof PostgresCheckParams>;

const PostgresQueryParams = Type.Object(
  {
    ...ConnectionFields,
    query: Type.String({ description: 'Statement to run.', minLength: 1, maxLength: 8192 }),
    statementTimeout: Type.Optional(
      Type.String({
        description:
          "How long the statement may run before PostgreSQL cancels it, e.g. `5m`; default `10s`, at most `1h`, and no longer than the step's `timeout`.",
        pattern: DURATION,
      }),
    ),
  },
  { description: 'Parameters of the `postgresQuery` action.' },
);

/** What an empty PromQL result (or only NaN samples) means. */
export const NO_DATA_MEANINGS = ['Pass', 'Fail', 'Wait'] as const;
export type NoDataMeaning = (typeof NO_DATA_MEANINGS)[number];

export const PrometheusQueryParams = Type.Object(
  {
    url: Type.String({
      description: 'Base URL of Prometheus, e.g. `http://prometheus:9090`.',
      pattern: '^https?://',
      maxLength: 2048,
    }),
    query: Type.Optional(
      Type.String({
        description: 'PromQL instant query. May use params. Either this or `ratio`.',
        minLength: 1,
        maxLength: 8192,
      }),
    ),
    ratio: Type.Optional(
      Type.Object(
        {
          numerator: Type.String({
            description: 'PromQL of the part, e.g. `sum(rate(http_requests_total{code=~"5.."}[5m]))`.',
            minLength: 1,
            maxLength: 4096,
          }),
          denominator: Type.String({
            description: 'PromQL of the whole, e.g. `sum(rate(http_requests_total[5m]))`.',
            minLength: 1,
            maxLength: 4096,
          }),
        },
        {
          description:
            'Instead of `query`: the check reads `numerator / denominator`, where a missing numerator series counts as 0 (no errors yet is a 0 % error rate) and a zero or missing denominator is no data (see `noData`). Give both sides the same labels, e.g. both `sum(...)` or both `sum by (service) (...)`. `expect` compares the ratio (0.05 is 5 %).',
        },
      ),
    ),
    expect: Type.Optional(
      Type.Object(
        {
          op: StringEnum(
            ['<', '<=', '==', '!=', '>=', '>'] as const,
            'Comparison applied to every sample value.',
          ),
          value: Type.Number({ description: 'Value to compare with.' }),
        },
        {
          description:
            'The check passes when every sample satisfies `value op expect.value`. Without `expect` any sample passes. No sample at all is no data (see `noData`).',
        },
      ),
    ),
    noData: Type.Optional(
      StringEnum(
        NO_DATA_MEANINGS,
        'What an empty result means; NaN samples (e.g. 0/0) count as absent. `Pass`: the check passes. `Fail`: it fails at once. `Wait`: not yet, look again (a step polls until its `timeout`; a guard or hold check, which looks once, reads it as not met). Default `Wait` in a step, `Fail` in a check of a guard or hold (no evidence is no pass).',
      ),
    ),
  },
  {
    description:
      'Parameters of the `prometheusQuery` action: an instant query whose every sample must satisfy `expect`.',
  },
);
export type PrometheusQueryParams = Static<typeof PrometheusQueryParams>;

export const NotifyParams = Type.Object(
  {
    url: Type.Optional(
      Type.String({
        description:
          'Webhook to post the message to (Slack-compatible JSON `{text}`); only an Event is recorded when absent.',
        pattern: '^https?://',
        maxLength: 2048,
      }),
    ),
    urlFrom: Type.Optional(ValueFrom),
    message: Type.String({ description: 'Message text. May use params.', minLength: 1, maxLength: 8192 }),
  },
  {
    description:
      "Parameters of the `notify` action. A webhook post carries the step's stamp as its `Idempotency-Key` header, as httpCall does.",
  },
);

const PodLogsParams = Type.Object(
  {
    container: Type.Optional(
      Type.String({
        description:
          "Container whose log to read; default the pod's `kubectl.kubernetes.io/default-container`, else its first container.",
        pattern: DNS1123_LABEL,
        maxLength: 63,
      }),
    ),
    tailLines: Type.Optional(
      Type.Integer({
        description: 'How many of the newest lines of each container log to read.',
        minimum: 1,
        maximum: OUTPUT_LIMITS.tailLines,
        default: 100,
      }),
    ),
    match: Type.Optional(
      Type.String({
        description:
          'Keep only the lines (of those read) that match this regular expression (RE2 syntax, matched anywhere in the line), e.g. `\\b503\\b|timeout`.',
        minLength: 1,
        maxLength: 1024,
      }),
    ),
    maxPods: Type.Optional(
      Type.Integer({
        description:
          'Read at most this many pods of the target; pods that are not ready or restart come first, then by name.',
        minimum: 1,
        maximum: OUTPUT_LIMITS.maxPods,
        default: 3,
      }),
    ),
    maxBytes: Type.Optional(
      Type.Integer({
        description:
          'At most this many bytes of lines recorded, over all pods; the newest lines are kept and a cut is marked `truncated`.',
        minimum: 256,
        maximum: OUTPUT_LIMITS.podLogsBytes,
        default: 8192,
      }),
    ),
    previous: Type.Optional(
      Type.Boolean({
        description:
          'Read the log of the previous, terminated run of the container (after a crash), as `kubectl logs --previous`.',
        default: false,
      }),
    ),
  },
  {
    description:
      "Parameters of the `podLogs` action: read-only diagnostics. Reads the newest lines of the logs of the target's pods (Deployment, StatefulSet, DaemonSet, ReplicaSet or Pod) into the step's `output` (`{pods: [{name, container, lines, truncated?, error?}]}`, secrets and URL credentials masked) and the audit log. A pod whose log cannot be read is recorded with its error; the step still succeeds.",
  },
);

const SilenceParams = Type.Object(
  {
    alertmanagerUrl: Type.String({
      description: 'Base URL of Alertmanager.',
      pattern: '^https?://',
      maxLength: 2048,
    }),
    duration: Type.String({ description: 'How long the silence lasts, e.g. `30m`.', pattern: DURATION }),
    comment: Type.Optional(Type.String({ description: 'Comment on the silence.', maxLength: 1024 })),
  },
  { description: 'Parameters of the `silence` action: silence the alert that triggered this Remediation.' },
);

// ---------------------------------------------------------------------------------------
// checks: a named read that passes or not, for guards and holds. The members are the
// parameters of the check actions (one home), plus `rollout`, a read of the step's target.

/** The members a Check may have, exactly one of them. */
export const CHECK_MEMBERS = [
  'httpCheck',
  'redisCheck',
  'postgresCheck',
  'prometheusQuery',
  'rollout',
] as const;
export type CheckMember = (typeof CHECK_MEMBERS)[number];

export const RolloutCheckParams = Type.Object(
  {
    changedWithin: Type.String({
      description:
        "Passes when the target's newest rollout is younger than this, e.g. `1h` (Deployment: its newest ReplicaSet; StatefulSet: its update revision).",
      pattern: DURATION,
    }),
    notReady: Type.Optional(
      Type.Boolean({
        description: 'Also require that rollout not to be complete and ready (the "bad deploy" signal).',
        default: false,
      }),
    ),
  },
  { description: "A read of the step's target: did it roll out recently?" },
);
export type RolloutCheckParams = Static<typeof RolloutCheckParams>;

export const Check = Type.Object(
  {
    name: Type.String({
      description: 'Name of the check, unique within its list (DNS-1123 label); records and messages use it.',
      pattern: DNS1123_LABEL,
      minLength: 1,
      maxLength: 63,
    }),
    timeout: Type.Optional(
      Type.String({
        description:
          'How long one evaluation may take before it counts as an error, e.g. `5s`; default `10s`, at most `1m`. A check looks once: it does not poll.',
        pattern: DURATION,
      }),
    ),
    httpCheck: Type.Optional(HttpCheckParams),
    redisCheck: Type.Optional(RedisCheckParams),
    postgresCheck: Type.Optional(PostgresCheckParams),
    prometheusQuery: Type.Optional(PrometheusQueryParams),
    rollout: Type.Optional(RolloutCheckParams),
  },
  {
    description:
      'A named read that passes or not: exactly one of `httpCheck`, `redisCheck`, `postgresCheck`, `prometheusQuery` (the parameters of the actions of those names) or `rollout`. One evaluation gives Met, NotMet or Error, recorded with what was read.',
  },
);
export type Check = Static<typeof Check>;

export const CheckList = Type.Array(Check, {
  description: 'Checks; all must pass.',
  minItems: 1,
  maxItems: 16,
});

/** What a hold does when one of its checks does not pass. */
export const HOLD_ON_FAIL = ['Fail'] as const;

export const HoldParams = Type.Object(
  {
    duration: Type.String({
      description:
        'How long the checks must keep passing, e.g. `10m`. The hold starts when its step is checkpointed (`status.steps[i].startedAt`), so an operator restart resumes it rather than starting over.',
      pattern: DURATION,
    }),
    interval: Type.Optional(
      Type.String({
        description:
          'How often the checks are evaluated while holding, e.g. `30s`; default `30s`, at least `1s`, at most the duration.',
        pattern: DURATION,
      }),
    ),
    checks: CheckList,
    onFail: Type.Optional(
      StringEnum(
        HOLD_ON_FAIL,
        "What a check that is not met (or cannot be read) does: `Fail` fails the step at once, which fails the run (and runs `onFailure`) like any step failure, unless the step says `continueOnFailure`. The step's `timeout` defaults to the duration plus a minute.",
        { default: 'Fail' },
      ),
    ),
  },
  {
    description:
      "Parameters of the `hold` action (a soak): wait `duration` while every check keeps passing, evaluating them every `interval`, e.g. 10 minutes of error ratio below 1 % between two traffic ramps. The last evaluation is recorded in the step's `output`.",
  },
);
export type HoldParams = Static<typeof HoldParams>;

export const WaitUntilParams = Type.Object(
  {
    interval: Type.Optional(
      Type.String({
        description: 'How often the checks are evaluated until they all pass, e.g. `15s`; default `15s`.',
        pattern: DURATION,
      }),
    ),
    checks: CheckList,
  },
  {
    description:
      'Parameters of the `waitUntil` action: evaluate the checks every `interval` until all of them pass (Met); a check that is not met or cannot be read (a store that refuses connections) means "not yet". The step\'s `timeout` is the deadline. `onResolve.gate` runs as a step of this action.',
  },
);
export type WaitUntilParams = Static<typeof WaitUntilParams>;

/** A precondition of a step or a Runbook (issue #12, ADR 0019); its choices are in gate-types.ts. */
export const Guard = Type.Object(
  {
    checks: CheckList,
    onNotMet: Type.Optional(
      StringEnum(
        GUARD_ON_NOT_MET,
        'What happens when a check reads fine and does not pass: `SkipStep` (default on a step) skips the step and goes on; `SkipRemediation` (the only choice on a Runbook) ends the Remediation `Skipped` with reason GuardNotMet. Neither counts toward `maxConsecutiveFailures`.',
      ),
    ),
    onError: Type.Optional(
      StringEnum(
        GUARD_ON_ERROR,
        'What happens when a check cannot be read (unreachable, timed out, a rejected query): `Fail` (default: nothing acts without evidence, and the failure is loud: onFailure, loop protection), `SkipStep` (steps only) or `SkipRemediation`.',
      ),
    ),
  },
  {
    description:
      'A precondition evaluated once, right before the step (or, on a Runbook, before the first step): every check must be Met. What was read is recorded in the step record (`status.steps[].guard`, or `status.guard`) and the audit.',
  },
);
export type Guard = Static<typeof Guard>;

// ---------------------------------------------------------------------------------------
// steps

/**
 * The step the controller puts first under `gitops.policy: Pause` (not for Runbooks: their
 * validation refuses it): it pauses the GitOps owner of the targets for the duration of the
 * change, its record holds the exact prior value, and its revert restores it.
 */
export const GitOpsPauseParams = Type.Object(
  {
    controller: StringEnum(['ArgoCD', 'Flux'] as const, 'The GitOps controller that owns the targets.'),
    maxPause: Type.String({
      description:
        'Restore the owner after this long at the latest (from the pause), even if the change is still in place.',
      pattern: DURATION,
    }),
    targets: Type.Optional(
      Type.Array(Type.String({ maxLength: 600 }), {
        description: 'The targets (`Kind/namespace/name`) whose owner this pauses.',
        maxItems: 50,
      }),
    ),
  },
  {
    description:
      'Parameters of the `gitopsPause` step, which only the controller adds (Runbook `gitops.policy: Pause`): the target is the Argo CD Application (its `spec.syncPolicy.automated.selfHeal` is set to false) or the Flux Kustomization/HelmRelease (its `spec.suspend` is set to true).',
  },
);

export const Step = Type.Object(
  {
    name: Type.String({
      description: 'Name of the step, unique within the runbook (DNS-1123 label).',
      pattern: DNS1123_LABEL,
      minLength: 1,
      maxLength: 63,
    }),
    action: StringEnum(
      ACTIONS,
      'What the step does. The parameters go in the member of the same name, e.g. `action: scale` with `scale: {replicas: 0}`.',
    ),
    target: Type.Optional(TargetRef),
    revertOnResolve: Type.Optional(
      Type.Boolean({
        description:
          'Undo this step from its recorded prior values when the alert resolves (setEnv, scale, patch).',
        default: false,
      }),
    ),
    timeout: Type.Optional(
      Type.String({ description: 'How long the step may take, e.g. `5m`; default `2m`.', pattern: DURATION }),
    ),
    retries: Type.Optional(
      Type.Integer({
        description: 'How many times a failed attempt is retried, with backoff, before the step fails.',
        minimum: 0,
        maximum: 10,
        default: 0,
      }),
    ),
    continueOnFailure: Type.Optional(
      Type.Boolean({
        description: 'Go on with the next step when this one fails (e.g. a best-effort notification).',
        default: false,
      }),
    ),
    rolloutRestart: Type.Optional(
      Type.Object(
        {},
        {
          description:
            'Parameters of the `rolloutRestart` action: none. Works on Deployments, StatefulSets and DaemonSets.',
        },
      ),
    ),
    scale: Type.Optional(ScaleParams),
    setEnv: Type.Optional(SetEnvParams),
    patch: Type.Optional(PatchParams),
    rolloutUndo: Type.Optional(RolloutUndoParams),
    deletePod: Type.Optional(DeletePodParams),
    waitForRollout: Type.Optional(WaitForRolloutParams),
    httpCheck: Type.Optional(HttpCheckParams),
    httpCall: Type.Optional(HttpCallParams),
    redisCheck: Type.Optional(RedisCheckParams),
    redisCommand: Type.Optional(RedisCommandParams),
    postgresCheck: Type.Optional(PostgresCheckParams),
    postgresQuery: Type.Optional(PostgresQueryParams),
    prometheusQuery: Type.Optional(PrometheusQueryParams),
    notify: Type.Optional(NotifyParams),
    silence: Type.Optional(SilenceParams),
    podLogs: Type.Optional(PodLogsParams),
    hold: Type.Optional(HoldParams),
    waitUntil: Type.Optional(WaitUntilParams),
    gitopsPause: Type.Optional(GitOpsPauseParams),
    guard: Type.Optional(Guard),
    requireApproval: Type.Optional(ApprovalPolicy),
  },
  { description: 'One step of a runbook.' },
);
export type Step = Static<typeof Step>;
