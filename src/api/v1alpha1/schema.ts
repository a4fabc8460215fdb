/**
 * The one source of truth for the kube-remediator.io/v1alpha1 API.
 *
 * Every type here is a TypeBox schema: `Static<typeof X>` gives the TypeScript type, the same
 * object validates at run time (Runbook validation, the webhook) and `scripts/gen-crds.ts`
 * turns it into the structural OpenAPI schema of the CRDs in `crds/`. A test fails when
 * `crds/` drifts from this file, so edit here and run `npm run gen:crds`.
 *
 * Kubernetes v1.20 (our oldest supported API server) drops CEL rules, so everything the API
 * server must enforce is written as enum, pattern, min/max and required.
 */
import {
  FormatRegistry,
  Type,
  type Static,
  type TLiteral,
  type TRecord,
  type TString,
  type TUnion,
} from '@sinclair/typebox';

// TypeBox knows no formats by itself: without this, Value.Check fails every `date-time` field.
// RFC 3339 as Kubernetes writes metav1.Time (fractional seconds and offsets allowed).
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;
if (!FormatRegistry.Has('date-time'))
  FormatRegistry.Set('date-time', (v) => RFC3339.test(v) && !Number.isNaN(Date.parse(v)));

// ---------------------------------------------------------------------------------------
// helpers

/** A string enum; the CRD generator turns the anyOf-of-const into `enum`. */
function StringEnum<const T extends readonly string[]>(
  values: T,
  description: string,
  extra: Record<string, unknown> = {},
): TUnion<TLiteral<T[number]>[]> {
  return Type.Union(
    values.map((v) => Type.Literal(v)),
    // `kubectl explain` shows descriptions but not enums, so the values go in the text too.
    { description: `${description} One of: ${values.map((v) => `\`${v}\``).join(', ')}.`, ...extra },
  );
}

/** A free-form JSON object the API server stores as it is. */
function FreeObject(description: string): ReturnType<typeof Type.Object> {
  return Type.Object({}, { description, 'x-kubernetes-preserve-unknown-fields': true });
}

function StringMap(description: string, extra: Record<string, unknown> = {}): TRecord<TString, TString> {
  return Type.Record(Type.String({ maxLength: 4096 }), Type.String({ maxLength: 8192 }), {
    description,
    ...extra,
  });
}

// DNS-1123 label and subdomain, as kube validates object names.
export const DNS1123_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
export const DNS1123_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
/** A name that may hold `{{ param }}` templates, resolved before use. */
export const TEMPLATED_NAME = '^([a-z0-9]([-a-z0-9.]*[a-z0-9])?|.*\\{\\{.*\\}\\}.*)$';
/** Go-style duration, e.g. `30s`, `10m`, `1h30m`. */
export const DURATION = '^([0-9]+(ms|s|m|h))+$';
/** A Kubernetes resource quantity, e.g. `512Mi`, `2`, `500m`, `10Gi`. */
export const QUANTITY = '^[0-9]+(\\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$';
const PARAM_NAME = '^[a-zA-Z_][a-zA-Z0-9_]*$';
const LABEL_NAME = '^[a-zA-Z_][a-zA-Z0-9_]*$';

// ---------------------------------------------------------------------------------------
// shared pieces

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

export const TargetRef = Type.Object(
  {
    apiVersion: Type.String({
      description: 'API version of the target, e.g. `apps/v1` or `v1`.',
      pattern: '^([a-z0-9.-]+/)?v[0-9]+((alpha|beta)[0-9]+)?$',
      maxLength: 253,
    }),
    kind: Type.String({
      description: 'Kind of the target, e.g. `Deployment`, `StatefulSet`, `DaemonSet`, `Pod`, `ConfigMap`.',
      pattern: '^[A-Z][A-Za-z0-9]*$',
      maxLength: 63,
    }),
    name: Type.String({
      description:
        'Name of the target. In a Runbook it may use params, e.g. `{{ deployment }}`; the resolved name must be a valid Kubernetes name.',
      pattern: TEMPLATED_NAME,
      minLength: 1,
      maxLength: 253,
    }),
    namespace: Type.Optional(
      Type.String({
        description:
          "Namespace of the target. Defaults to the Remediation's own namespace. It must lie in the Runbook's scope (`safety.allowedNamespaces`). May use params.",
        pattern: TEMPLATED_NAME,
        maxLength: 253,
      }),
    ),
  },
  { description: 'A namespaced Kubernetes object that a step acts on.' },
);
export type TargetRef = Static<typeof TargetRef>;

export const SecretKeyRef = Type.Object(
  {
    name: Type.String({
      description: 'Name of a Secret in the namespace of the Runbook or Remediation.',
      pattern: DNS1123_SUBDOMAIN,
      maxLength: 253,
    }),
    key: Type.String({ description: 'Key inside the Secret.', minLength: 1, maxLength: 253 }),
  },
  { description: 'A key of a Secret, read by the operator at run time (never copied into status).' },
);

const ValueFrom = Type.Object(
  { secretKeyRef: Type.Optional(SecretKeyRef) },
  { description: 'Where to read a secret value from, instead of writing it inline.' },
);

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

const NotifyParams = Type.Object(
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

// ---------------------------------------------------------------------------------------
// Runbook

export const MATCH_OPS = ['=', '!=', '=~', '!~'] as const;
export type MatchOp = (typeof MATCH_OPS)[number];

export const Matcher = Type.Object(
  {
    label: Type.String({ description: 'Alert label name.', pattern: LABEL_NAME, maxLength: 256 }),
    op: StringEnum(
      MATCH_OPS,
      'Match operator as in Alertmanager: `=` equal, `!=` not equal, `=~` regex match, `!~` regex non-match. Regular expressions are anchored.',
      { default: '=' },
    ),
    value: Type.String({
      description: 'Value or regular expression to compare the label with.',
      maxLength: 1024,
    }),
  },
  { description: 'A condition on one alert label.' },
);
export type Matcher = Static<typeof Matcher>;

export const Trigger = Type.Object(
  {
    alertname: Type.String({
      description: 'The `alertname` label this trigger answers.',
      minLength: 1,
      maxLength: 256,
    }),
    matchers: Type.Optional(
      Type.Array(Matcher, { description: 'Further label conditions; all must hold.', maxItems: 32 }),
    ),
    status: Type.Optional(
      StringEnum(
        ['firing'] as const,
        'Alert status that starts a remediation; only `firing` (resolved alerts revert).',
        { default: 'firing' },
      ),
    ),
  },
  { description: 'Which alerts start this runbook: an alertname plus label matchers.' },
);
export type Trigger = Static<typeof Trigger>;

export const Param = Type.Object(
  {
    name: Type.String({
      description: 'Name used in templates, e.g. `deployment` for `{{ deployment }}`.',
      pattern: PARAM_NAME,
      maxLength: 63,
    }),
    from: Type.Optional(
      Type.String({
        description:
          'Where the value comes from: `labels.<name>` or `annotations.<name>` of the alert. A Remediation may also set the param directly in `spec.params`.',
        pattern: '^(labels|annotations)\\.[a-zA-Z_][a-zA-Z0-9_]*$',
        maxLength: 300,
      }),
    ),
    default: Type.Optional(Type.String({ description: 'Value when the source is absent.', maxLength: 1024 })),
    required: Type.Optional(
      Type.Boolean({
        description: 'Refuse to start (reason MissingParam) when the param has no value.',
        default: true,
      }),
    ),
  },
  { description: 'A named value templated into steps from the alert.' },
);
export type Param = Static<typeof Param>;

export const Bounds = Type.Object(
  {
    minReplicas: Type.Optional(
      Type.Integer({
        description: 'Lowest replica count a step may set (scale or patch). 0 allows scale-to-zero.',
        minimum: 0,
      }),
    ),
    maxReplicas: Type.Optional(
      Type.Integer({ description: 'Highest replica count a step may set (scale or patch).', minimum: 0 }),
    ),
    maxMemory: Type.Optional(
      Type.String({
        description: 'Highest memory request or limit a patch may set on a container, e.g. `2Gi`.',
        pattern: QUANTITY,
      }),
    ),
    maxCpu: Type.Optional(
      Type.String({
        description: 'Highest CPU request or limit a patch may set on a container, e.g. `2` or `1500m`.',
        pattern: QUANTITY,
      }),
    ),
    maxStorage: Type.Optional(
      Type.String({
        description: 'Highest storage request a patch may set (PVCs, volumeClaimTemplates), e.g. `100Gi`.',
        pattern: QUANTITY,
      }),
    ),
    allowedPatchPaths: Type.Optional(
      Type.Array(Type.String({ pattern: '^/', maxLength: 512 }), {
        description:
          'JSON-pointer prefixes a patch may touch, e.g. `/spec/template/spec/containers`. Any path outside is refused. Empty allows all.',
        maxItems: 64,
      }),
    ),
  },
  { description: 'Limits that every mutating step is checked against before anything is sent.' },
);
export type Bounds = Static<typeof Bounds>;

export const Safety = Type.Object(
  {
    allowedNamespaces: Type.Optional(
      Type.Array(Type.String({ pattern: DNS1123_LABEL, maxLength: 63 }), {
        description: "Namespaces the runbook may act in. Default: only the Runbook's own namespace.",
        maxItems: 256,
      }),
    ),
    cooldown: Type.Optional(
      Type.String({
        description:
          'After a remediation starts, ignore new alerts for the same runbook and target for this long, e.g. `10m`.',
        pattern: DURATION,
      }),
    ),
    maxPerHour: Type.Optional(
      Type.Integer({
        description: 'At most this many remediations per hour for this runbook.',
        minimum: 1,
        maximum: 10000,
      }),
    ),
    maxConcurrent: Type.Optional(
      Type.Integer({
        description:
          'At most this many remediations of this runbook running at once; the rest wait in Pending.',
        minimum: 1,
        maximum: 1000,
      }),
    ),
    requireApproval: Type.Optional(
      Type.Boolean({
        description:
          'Wait in AwaitingApproval until a person annotates `kube-remediator.io/approved-by=<who>`.',
        default: false,
      }),
    ),
    maxConsecutiveFailures: Type.Optional(
      Type.Integer({
        description:
          'After this many failures in a row on one target, new remediations end Blocked until a person clears it.',
        minimum: 1,
        maximum: 100,
        default: 3,
      }),
    ),
    bounds: Type.Optional(Bounds),
  },
  { description: 'Safety rules applied before and during execution.' },
);
export type Safety = Static<typeof Safety>;

export const OnFailure = Type.Object(
  {
    revert: Type.Optional(
      Type.Boolean({
        description: 'Undo the reversible steps already done when a step fails.',
        default: false,
      }),
    ),
    notify: Type.Optional(NotifyParams),
  },
  { description: 'What to do when a step fails for good.' },
);

export const RunbookSpec = Type.Object(
  {
    description: Type.Optional(
      Type.String({ description: 'What the runbook is for, in a sentence.', maxLength: 2048 }),
    ),
    triggers: Type.Optional(
      Type.Array(Trigger, {
        description:
          'Alerts that start this runbook. Without triggers it runs only from hand-made Remediations.',
        maxItems: 32,
      }),
    ),
    params: Type.Optional(
      Type.Array(Param, { description: 'Named values templated into the steps.', maxItems: 64 }),
    ),
    target: Type.Optional(TargetRef),
    steps: Type.Array(Step, { description: 'The steps, run in order.', minItems: 1, maxItems: 50 }),
    safety: Type.Optional(Safety),
    onFailure: Type.Optional(OnFailure),
    suspend: Type.Optional(
      Type.Boolean({
        description: 'Stop matching alerts to this runbook (hand-made Remediations still run).',
        default: false,
      }),
    ),
  },
  { description: 'RunbookSpec: which alerts, which steps, which safety rules.' },
);
export type RunbookSpec = Static<typeof RunbookSpec>;

export const Condition = Type.Object(
  {
    type: Type.String({
      description: 'Type of condition in CamelCase, e.g. `Ready`.',
      pattern:
        '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
      maxLength: 316,
    }),
    status: StringEnum(['True', 'False', 'Unknown'] as const, 'Status of the condition.'),
    observedGeneration: Type.Optional(
      Type.Integer({ description: 'The generation the condition was set for.', minimum: 0 }),
    ),
    lastTransitionTime: Type.String({
      description: 'When the condition last changed status.',
      format: 'date-time',
    }),
    reason: Type.String({
      description: 'Machine-readable reason in CamelCase.',
      pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
      minLength: 1,
      maxLength: 1024,
    }),
    message: Type.String({ description: 'Human-readable details.', maxLength: 32768 }),
  },
  { description: 'A condition in the shape of metav1.Condition.' },
);
export type Condition = Static<typeof Condition>;

const Conditions = Type.Array(Condition, {
  description: 'Current state as conditions (Kubernetes API conventions).',
  maxItems: 32,
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': ['type'],
});

export const RunbookStatus = Type.Object(
  {
    observedGeneration: Type.Optional(
      Type.Integer({ description: 'The generation the controller last validated.', minimum: 0 }),
    ),
    conditions: Type.Optional(Conditions),
    matchedAlerts: Type.Optional(
      Type.Integer({ description: 'How many alerts matched this runbook since it was created.', minimum: 0 }),
    ),
    lastFiredAt: Type.Optional(
      Type.String({
        description: 'When an alert last started a remediation from this runbook.',
        format: 'date-time',
      }),
    ),
    stepCount: Type.Optional(
      Type.Integer({ description: 'Number of steps (for `kubectl get rb`).', minimum: 0 }),
    ),
    activeRemediations: Type.Optional(
      Type.Integer({
        description:
          'Remediations of this runbook not yet finished. A summary for `kubectl get rb`, recounted about 2 s after they start or finish (nothing decides on it).',
        minimum: 0,
      }),
    ),
  },
  { description: 'RunbookStatus: validation result and usage.' },
);
export type RunbookStatus = Static<typeof RunbookStatus>;

// ---------------------------------------------------------------------------------------
// Remediation

export const ALERT_STATUSES = ['firing', 'resolved'] as const;

export const AlertInfo = Type.Object(
  {
    name: Type.String({ description: 'The alertname.', minLength: 1, maxLength: 256 }),
    fingerprint: Type.Optional(
      Type.String({
        description: "Alertmanager's fingerprint of the alert's labels.",
        pattern: '^[0-9a-fA-F]{1,64}$',
      }),
    ),
    startsAt: Type.Optional(
      Type.String({ description: 'When the alert started firing.', format: 'date-time' }),
    ),
    endsAt: Type.Optional(
      Type.String({ description: 'When the alert ended, if it did.', format: 'date-time' }),
    ),
    status: Type.Optional(StringEnum(ALERT_STATUSES, 'Last known alert status.')),
    labels: Type.Optional(StringMap('Alert labels.')),
    annotations: Type.Optional(StringMap('Alert annotations.')),
    generatorURL: Type.Optional(
      Type.String({ description: 'Link to the source of the alert.', maxLength: 2048 }),
    ),
  },
  { description: 'The alert this remediation answers, as Alertmanager sent it.' },
);
export type AlertInfo = Static<typeof AlertInfo>;

export const RemediationSpec = Type.Object(
  {
    runbookRef: Type.Optional(
      Type.Object(
        {
          name: Type.String({
            description: 'Name of a Runbook in the same namespace.',
            pattern: DNS1123_SUBDOMAIN,
            minLength: 1,
            maxLength: 253,
          }),
        },
        { description: 'The Runbook whose steps and safety rules to use. Either this or `steps`.' },
      ),
    ),
    steps: Type.Optional(
      Type.Array(Step, {
        description:
          'Inline steps, for a one-off remediation without a Runbook. Either this or `runbookRef`.',
        maxItems: 50,
      }),
    ),
    safety: Type.Optional(Safety),
    params: Type.Optional(StringMap('Param values; they override values derived from the alert.')),
    target: Type.Optional(TargetRef),
    alert: Type.Optional(AlertInfo),
    dryRun: Type.Optional(
      Type.Boolean({
        description: 'Send every change with `dryRun=All`, record the would-be diff, change nothing.',
        default: false,
      }),
    ),
  },
  { description: 'RemediationSpec: what to run, on what, and why.' },
);
export type RemediationSpec = Static<typeof RemediationSpec>;

export const REMEDIATION_PHASES = [
  'Pending',
  'AwaitingApproval',
  'Running',
  'Verifying',
  'Succeeded',
  'Failed',
  'Blocked',
  'Reverting',
  'Reverted',
  'Skipped',
  'DryRun',
] as const;
export type RemediationPhase = (typeof REMEDIATION_PHASES)[number];

export const STEP_PHASES = [
  'Pending',
  'Running',
  'Succeeded',
  'Failed',
  'Skipped',
  'DryRun',
  'Reverting',
  'Reverted',
] as const;
export type StepPhase = (typeof STEP_PHASES)[number];

export const LayeredOn = Type.Object(
  {
    remediation: Type.String({ description: 'The other Remediation, `namespace/name`.', maxLength: 317 }),
    uid: Type.String({
      description: 'Its uid (a Remediation created again under the name is another).',
      maxLength: 64,
    }),
    step: Type.String({ description: 'Its step whose change this step changed again.', maxLength: 63 }),
  },
  { description: 'A change of another Remediation that a step changed again.' },
);
export type LayeredOn = Static<typeof LayeredOn>;

export const StepStatus = Type.Object(
  {
    name: Type.String({ description: 'Name of the step.', maxLength: 63 }),
    action: StringEnum(ACTIONS, 'Action of the step.'),
    phase: StringEnum(STEP_PHASES, 'Where the step is.'),
    attempt: Type.Optional(Type.Integer({ description: 'Attempt number, from 1.', minimum: 0 })),
    startedAt: Type.Optional(
      Type.String({
        description: 'When the current attempt started (checkpointed before the side effect).',
        format: 'date-time',
      }),
    ),
    finishedAt: Type.Optional(Type.String({ description: 'When the step finished.', format: 'date-time' })),
    nextAttemptAt: Type.Optional(
      Type.String({ description: 'When the next retry is due.', format: 'date-time' }),
    ),
    message: Type.Optional(Type.String({ description: 'What happened, for people.', maxLength: 32768 })),
    target: Type.Optional(
      Type.String({ description: 'The resolved target, `Kind/namespace/name`.', maxLength: 600 }),
    ),
    spec: Type.Optional(
      FreeObject(
        'The step as it runs: copied from the Runbook (or spec.steps) at start with every param rendered, so that editing the Runbook never changes a Remediation in flight.',
      ),
    ),
    before: Type.Optional(
      FreeObject('The exact values the step changed, as they were before (used for revert).'),
    ),
    after: Type.Optional(FreeObject('The values after the step.')),
    diff: Type.Optional(FreeObject('For dry runs: the would-be change.')),
    revertedAt: Type.Optional(
      Type.String({ description: 'When the step was reverted.', format: 'date-time' }),
    ),
    revertAttempt: Type.Optional(
      Type.Integer({ description: 'Attempt number of the revert, from 1.', minimum: 0 }),
    ),
    revertedFrom: Type.Optional(
      StringEnum(
        ['Succeeded', 'Failed'] as const,
        'The phase the step had when its revert started (restored if the revert fails).',
      ),
    ),
    layeredOn: Type.Optional(
      Type.Array(LayeredOn, {
        description:
          "Other Remediations whose change to the same fields of the same target was in place when this step planned: its `before` is their value. Their reverts wait until this step's change is reverted (reverts unwind newest first).",
        maxItems: 64,
      }),
    ),
  },
  { description: 'The record of one step.' },
);
export type StepStatus = Static<typeof StepStatus>;

const Signoff = Type.Object(
  {
    by: Type.String({ description: 'Who, as written in the annotation.', maxLength: 256 }),
    at: Type.String({ description: 'When the controller saw it.', format: 'date-time' }),
  },
  { description: "A person's decision, recorded." },
);

export const RemediationStatus = Type.Object(
  {
    phase: Type.Optional(
      StringEnum(
        REMEDIATION_PHASES,
        'Overall phase, derived from the steps and conditions. Pending: not started (waiting for its Runbook, a concurrency slot or the target lock). AwaitingApproval: waiting for the approved-by annotation. Running: steps are running. Verifying: the changes are made and only checks are left (waitForRollout, httpCheck, redisCheck, postgresCheck, prometheusQuery). Succeeded, Failed, Skipped (rejected, or resolved before start), Blocked (loop protection), DryRun: final. Reverting, Reverted: undoing the revertOnResolve steps, and done.',
      ),
    ),
    observedGeneration: Type.Optional(
      Type.Integer({ description: 'The generation the controller last acted on.', minimum: 0 }),
    ),
    conditions: Type.Optional(Conditions),
    steps: Type.Optional(
      Type.Array(StepStatus, { description: 'One record per step, in order.', maxItems: 50 }),
    ),
    progress: Type.Optional(
      Type.String({ description: 'Steps done of all, e.g. `2/5` (for `kubectl get rem`).', maxLength: 16 }),
    ),
    target: Type.Optional(
      Type.String({ description: 'The resolved main target, `Kind/name`.', maxLength: 600 }),
    ),
    runbookGeneration: Type.Optional(
      Type.Integer({
        description: 'Generation of the Runbook whose steps were copied at start.',
        minimum: 0,
      }),
    ),
    bounds: Type.Optional(
      // Same fields as safety.bounds, own description: this is the copy, not the rule.
      Type.Object(Bounds.properties, {
        description:
          'The `safety.bounds` every step of this run is checked against, copied with the steps (`{}` when there are none), so that editing or deleting the Runbook (or `spec.safety`) never loosens or drops them mid-run. Absent on runs started by a version without this field: those use the current bounds.',
      }),
    ),
    startedAt: Type.Optional(
      Type.String({ description: 'When the first step started.', format: 'date-time' }),
    ),
    dryRun: Type.Optional(
      Type.Boolean({
        description:
          'Whether this run is a dry run, fixed when it starts; later changes to spec.dryRun are ignored.',
      }),
    ),
    completedAt: Type.Optional(
      Type.String({ description: 'When the remediation reached a final phase.', format: 'date-time' }),
    ),
    approval: Type.Optional(Signoff),
    rejection: Type.Optional(Signoff),
    revertRequestedAt: Type.Optional(
      Type.String({
        description: 'When a revert was asked for (alert resolved or annotation).',
        format: 'date-time',
      }),
    ),
    revertMode: Type.Optional(
      StringEnum(
        ['onResolve', 'onFailure'] as const,
        'Which revert is under way, fixed when it starts: the steps marked revertOnResolve (a revert request) or every reversible step (onFailure.revert). Later changes to the Runbook do not change the set.',
      ),
    ),
    message: Type.Optional(Type.String({ description: 'Summary for people.', maxLength: 32768 })),
  },
  { description: 'RemediationStatus: the audit record of what was done.' },
);
export type RemediationStatus = Static<typeof RemediationStatus>;

// ---------------------------------------------------------------------------------------
// objects

export const ObjectMeta = Type.Object(
  {
    name: Type.Optional(Type.String()),
    namespace: Type.Optional(Type.String()),
    uid: Type.Optional(Type.String()),
    resourceVersion: Type.Optional(Type.String()),
    generation: Type.Optional(Type.Integer()),
    creationTimestamp: Type.Optional(Type.String()),
    deletionTimestamp: Type.Optional(Type.String()),
    labels: Type.Optional(Type.Record(Type.String(), Type.String())),
    annotations: Type.Optional(Type.Record(Type.String(), Type.String())),
    finalizers: Type.Optional(Type.Array(Type.String())),
  },
  { description: 'Standard object metadata.' },
);
export type ObjectMeta = Static<typeof ObjectMeta>;

export interface Runbook {
  apiVersion: 'kube-remediator.io/v1alpha1';
  kind: 'Runbook';
  metadata: ObjectMeta;
  spec: RunbookSpec;
  status?: RunbookStatus;
}

export interface Remediation {
  apiVersion: 'kube-remediator.io/v1alpha1';
  kind: 'Remediation';
  metadata: ObjectMeta;
  spec: RemediationSpec;
  status?: RemediationStatus;
}
