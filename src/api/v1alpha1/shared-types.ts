/**
 * The pieces both kinds share: schema helpers, name and duration patterns, the target of a
 * step, Secret references, conditions and object metadata. (See schema.ts for the whole API.)
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
export function StringEnum<const T extends readonly string[]>(
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
export function FreeObject(description: string): ReturnType<typeof Type.Object> {
  return Type.Object({}, { description, 'x-kubernetes-preserve-unknown-fields': true });
}

export function StringMap(
  description: string,
  extra: Record<string, unknown> = {},
): TRecord<TString, TString> {
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
export const PARAM_NAME = '^[a-zA-Z_][a-zA-Z0-9_]*$';
export const LABEL_NAME = '^[a-zA-Z_][a-zA-Z0-9_]*$';

// ---------------------------------------------------------------------------------------
// shared pieces

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

export const ValueFrom = Type.Object(
  { secretKeyRef: Type.Optional(SecretKeyRef) },
  { description: 'Where to read a secret value from, instead of writing it inline.' },
);

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

export const Conditions = Type.Array(Condition, {
  description: 'Current state as conditions (Kubernetes API conventions).',
  maxItems: 32,
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': ['type'],
});

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
