/**
 * Builds the CustomResourceDefinitions from the TypeBox schema (src/api/v1alpha1/schema.ts),
 * converting the few constructs TypeBox emits that a Kubernetes structural schema does not
 * accept: `anyOf` of string constants becomes `enum`, `patternProperties` becomes
 * `additionalProperties`, and empty `properties` of free-form objects are dropped.
 */
import { type TSchema } from '@sinclair/typebox';
import { CATEGORY, GROUP, RESOURCES, VERSION } from './constants.js';
import { RemediationSpec, RemediationStatus } from './remediation-types.js';
import { RunbookSpec, RunbookStatus } from './runbook-types.js';

type Json = Record<string, unknown>;

/** Converts one TypeBox schema node into a structural OpenAPI v3 node. */
export function toStructural(schema: unknown): Json {
  const s = JSON.parse(JSON.stringify(schema)) as Json;
  return convert(s);
}

function convert(node: Json): Json {
  const out: Json = {};
  const anyOf = node.anyOf as Json[] | undefined;
  if (anyOf && anyOf.every((a) => 'const' in a)) {
    out.type = 'string';
    out.enum = anyOf.map((a) => a.const);
  }
  for (const [key, value] of Object.entries(node)) {
    switch (key) {
      case 'anyOf':
      case '$id':
      case 'const':
        break;
      case 'properties': {
        const props = value as Record<string, Json>;
        if (Object.keys(props).length === 0 && node['x-kubernetes-preserve-unknown-fields']) break;
        out.properties = Object.fromEntries(Object.entries(props).map(([k, v]) => [k, convert(v)]));
        break;
      }
      case 'patternProperties': {
        const only = Object.values(value as Record<string, Json>)[0];
        if (only) out.additionalProperties = convert(only);
        break;
      }
      case 'items':
        out.items = convert(value as Json);
        break;
      case 'required':
        if ((value as string[]).length > 0) out.required = value;
        break;
      default:
        out[key] = value;
    }
  }
  return out;
}

interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'date' | 'boolean' | 'number';
  jsonPath: string;
  description: string;
  priority?: number;
}

function crd(
  res: (typeof RESOURCES)[keyof typeof RESOURCES],
  description: string,
  spec: TSchema,
  status: TSchema,
  columns: PrinterColumn[],
): Json {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${res.plural}.${GROUP}`,
      labels: { 'app.kubernetes.io/name': 'kube-remediator', 'app.kubernetes.io/part-of': 'kube-remediator' },
    },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: {
        kind: res.kind,
        listKind: `${res.kind}List`,
        plural: res.plural,
        singular: res.singular,
        shortNames: [...res.shortNames],
        categories: [CATEGORY],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: columns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description,
              required: ['spec'],
              properties: {
                apiVersion: {
                  type: 'string',
                  description: 'APIVersion defines the versioned schema of this representation of an object.',
                },
                kind: {
                  type: 'string',
                  description:
                    'Kind is a string value representing the REST resource this object represents.',
                },
                metadata: { type: 'object' },
                spec: toStructural(spec),
                status: toStructural(status),
              },
            },
          },
        },
      ],
    },
  };
}

export function remediationCrd(): Json {
  return crd(
    RESOURCES.remediation,
    'Remediation is one run of a runbook against a target: created by the alert intake or by a person, carried out step by step by the controller, and kept as the audit record of what was done.',
    RemediationSpec,
    RemediationStatus,
    [
      { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Overall phase.' },
      {
        name: 'Runbook',
        type: 'string',
        jsonPath: '.spec.runbookRef.name',
        description: 'The Runbook used.',
      },
      {
        name: 'Target',
        type: 'string',
        jsonPath: '.status.target',
        description: 'The resolved main target.',
      },
      { name: 'Step', type: 'string', jsonPath: '.status.progress', description: 'Steps done of all.' },
      { name: 'Alert', type: 'string', jsonPath: '.spec.alert.name', description: 'The alert answered.' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'Age.' },
      { name: 'Message', type: 'string', jsonPath: '.status.message', description: 'Summary.', priority: 1 },
    ],
  );
}

export function runbookCrd(): Json {
  return crd(
    RESOURCES.runbook,
    'Runbook says which alerts it answers, which steps to run and under which safety rules.',
    RunbookSpec,
    RunbookStatus,
    [
      {
        name: 'Ready',
        type: 'string',
        jsonPath: '.status.conditions[?(@.type=="Ready")].status',
        description: 'Whether the spec is valid.',
      },
      {
        name: 'Alerts',
        type: 'integer',
        jsonPath: '.status.matchedAlerts',
        description: 'Alerts matched so far.',
      },
      { name: 'Steps', type: 'integer', jsonPath: '.status.stepCount', description: 'Number of steps.' },
      {
        name: 'Last Fired',
        type: 'date',
        jsonPath: '.status.lastFiredAt',
        description: 'When it last started a remediation.',
      },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'Age.' },
      {
        name: 'Reason',
        type: 'string',
        jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
        description: 'Why it is (not) ready.',
        priority: 1,
      },
    ],
  );
}

export function allCrds(): Json[] {
  return [remediationCrd(), runbookCrd()];
}
