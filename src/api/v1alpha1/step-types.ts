/**
 * Steps, the part of the API both kinds carry: a Runbook's `spec.steps`, a Remediation's inline
 * `spec.steps`, and the rendered copy in `status.steps[].spec`. One parameter member per action.
 */
import { Type, type Static } from '@sinclair/typebox';
import {
  DNS1123_LABEL,
  DURATION,
  StringEnum,
  StringMap,
  TEMPLATED_NAME,
  TargetRef,
  ValueFrom,
} from './shared-types.js';

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
] as const;
export type ActionName = (typeof ACTIONS)[number];

/**
 * Actions that only look: they confirm that the changes before them worked. A Remediation
 * whose remaining steps are all of these, after at least one change, is `Verifying`.
 */
export const CHECK_ACTIONS: ReadonlySet<ActionName> = new Set<ActionName>([
  'waitForRollout',
  'httpCheck',
  'redisCheck',
  'postgresCheck',
  'prometheusQuery',
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

const HttpCheckParams = Type.Object(
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
        description: 'Acceptable status codes; default any 2xx.',
        maxItems: 20,
      }),
    ),
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

const RedisCheckParams = Type.Object(
  {
    ...ConnectionFields,
    command: Type.Optional(
      Type.Array(Type.String({ maxLength: 1024 }), {
        description: 'Command and arguments; default `PING`.',
        maxItems: 32,
      }),
    ),
    expect: Type.Optional(Type.String({ description: 'Expected reply, e.g. `PONG`.', maxLength: 1024 })),
  },
  { description: 'Parameters of the `redisCheck` action.' },
);

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

const PostgresCheckParams = Type.Object(
  {
    ...ConnectionFields,
    query: Type.Optional(Type.String({ description: 'Query to run; default `SELECT 1`.', maxLength: 8192 })),
    expect: Type.Optional(
      Type.String({
        description: 'Expected value of the first column of the first row, as text.',
        maxLength: 1024,
      }),
    ),
  },
  { description: 'Parameters of the `postgresCheck` action.' },
);

const PostgresQueryParams = Type.Object(
  {
    ...ConnectionFields,
    query: Type.String({ description: 'Statement to run.', minLength: 1, maxLength: 8192 }),
  },
  { description: 'Parameters of the `postgresQuery` action.' },
);

const PrometheusQueryParams = Type.Object(
  {
    url: Type.String({
      description: 'Base URL of Prometheus, e.g. `http://prometheus:9090`.',
      pattern: '^https?://',
      maxLength: 2048,
    }),
    query: Type.String({
      description: 'PromQL instant query. May use params.',
      minLength: 1,
      maxLength: 8192,
    }),
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
            'The check passes when every sample satisfies `value op expect.value` (and there is at least one sample).',
        },
      ),
    ),
  },
  { description: 'Parameters of the `prometheusQuery` action.' },
);

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
// steps

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
  },
  { description: 'One step of a runbook.' },
);
export type Step = Static<typeof Step>;
