/**
 * The test file of `kube-remediator test` (like `promtool test rules`): Runbook files, the
 * cluster objects they act on, and cases: an alert and what must follow. The TypeBox type is
 * the one source of the JSON schema (`npm run gen:crds` writes docs/runbook-test.schema.json)
 * and of the validation that names the field of a mistake (exit code 2).
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Type, type Static, type TSchema, type TString } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import yaml from 'js-yaml';
import '../api/v1alpha1/shared-types.js';
import type { Runbook } from '../api/v1alpha1/schema.js';
import { WebhookPayload } from '../intake/payload.js';
import type { KubeObject } from '../kube/raw-object.js';
import { parseDuration } from '../util/duration.js';
import { errorMessage } from '../util/errors.js';
import { objectProblems } from './objects.js';
import { fieldPath, schemaMessage } from '../runbook/validate.js';

const DURATION = '^([0-9]+(ms|s|m|h|d))+$';
const Str = (description: string, extra: object = {}): TString => Type.String({ description, ...extra });

export const TestAlert = Type.Object(
  {
    labels: Type.Record(Type.String(), Type.String(), {
      description: 'The alert labels; `alertname` is what triggers match first.',
    }),
    annotations: Type.Optional(
      Type.Record(Type.String(), Type.String(), { description: 'Alert annotations.' }),
    ),
    status: Type.Optional(
      Type.Union([Type.Literal('firing'), Type.Literal('resolved')], {
        description: '`firing` (default) or `resolved`.',
      }),
    ),
    startsAt: Type.Optional(
      Str(
        "When the alert started (RFC 3339); default: the case's `now`. With the fingerprint it names the Remediation.",
        {
          format: 'date-time',
        },
      ),
    ),
    fingerprint: Type.Optional(
      Str('Alertmanager fingerprint (hex); default: a hash of the labels.', {
        pattern: '^[0-9a-fA-F]{1,64}$',
      }),
    ),
  },
  {
    description: 'One alert, as Alertmanager would send it: only the labels are required.',
    additionalProperties: false,
  },
);
export type TestAlert = Static<typeof TestAlert>;

const StepGiven = Type.Union(
  [
    Type.Literal('pass'),
    Type.Literal('fail'),
    Type.Object(
      { fail: Str('The failure message the step gives.') },
      { additionalProperties: false, description: 'The step fails with this message.' },
    ),
  ],
  {
    description:
      'What the step gives when applied: `pass` (the default: a change is done as planned, a check passes), `fail`, or `{fail: message}`.',
  },
);

export const HistoryItem = Type.Object(
  {
    runbook: Str('Name of the Runbook of that earlier Remediation.'),
    ago: Type.Optional(
      Str("How long before the case's `now` it was created (and, if over, finished), e.g. `10m`.", {
        pattern: DURATION,
      }),
    ),
    at: Type.Optional(Str('When it was created (RFC 3339); instead of `ago`.', { format: 'date-time' })),
    phase: Type.Union([Type.Literal('Running'), Type.Literal('Succeeded'), Type.Literal('Failed')], {
      description: '`Running` holds its target and a slot; `Succeeded` / `Failed` count for loop protection.',
    }),
    target: Type.Optional(Str("`Kind/namespace/name`; default: the target the case's alert renders to.")),
  },
  {
    additionalProperties: false,
    description: 'An earlier Remediation: cooldowns, rate windows, loop protection and locks count these.',
  },
);

export const Given = Type.Object(
  {
    now: Type.Optional(
      Str("The time of the case (RFC 3339); default the file's `now`, else 2026-01-01T00:00:00Z.", {
        format: 'date-time',
      }),
    ),
    approvedBy: Type.Optional(
      Str('A person approved it (the approved-by annotation), for `safety.requireApproval`.'),
    ),
    rejectedBy: Type.Optional(Str('A person rejected it (the rejected-by annotation).')),
    history: Type.Optional(Type.Array(HistoryItem, { description: 'Earlier Remediations, in any order.' })),
    steps: Type.Optional(
      Type.Record(Type.String(), StepGiven, { description: 'Step name → what its apply gives.' }),
    ),
    checks: Type.Optional(
      Type.Record(
        Type.String(),
        Type.Union([Type.Literal('pass'), Type.Literal('fail'), Type.Literal('error')]),
        {
          description:
            "Check name → what a guard's read of it gives (`pass`, the default; `fail`: not met; `error`: unreadable): the case states what the read would give.",
        },
      ),
    ),
  },
  { additionalProperties: false, description: 'What the case states about the world besides the objects.' },
);
export type Given = Static<typeof Given>;

const Free = (description: string): TSchema => Type.Record(Type.String(), Type.Unknown(), { description });

export const StepExpect = Type.Object(
  {
    name: Type.Optional(Str('The step name.')),
    action: Type.Optional(Str('The action.')),
    phase: Type.Optional(Str('Pending, Running, Succeeded, Failed, Skipped, Reverted...')),
    target: Type.Optional(Str('The resolved target, `Kind/namespace/name`.')),
    before: Type.Optional(
      Free('The planned `before` (what the change overwrites), as the same plan() computes it.'),
    ),
    after: Type.Optional(Free('The planned `after`.')),
    message: Type.Optional(Str("A part of the step's message.")),
  },
  { additionalProperties: false, description: 'One step; only the fields given are compared.' },
);

const OUTCOMES = [
  'created',
  'suppressed_out_of_scope',
  'suppressed_invalid_param',
  'suppressed_cooldown',
  'suppressed_rate_limit',
  'resolved',
] as const;

export const RunbookExpect = Type.Object(
  {
    outcome: Type.Optional(
      Type.Union(
        OUTCOMES.map((o) => Type.Literal(o)),
        {
          description:
            'What the intake does: `created` (a Remediation), a `suppressed_*` reason, or `resolved`.',
        },
      ),
    ),
    message: Type.Optional(
      Str("A part of the suppression reason (or of the Remediation's condition message)."),
    ),
    name: Type.Optional(Str("The Remediation's name.")),
    params: Type.Optional(
      Type.Record(Type.String(), Type.String(), {
        description: 'Rendered params; only those given are compared.',
      }),
    ),
    target: Type.Optional(Str('The main target, `Kind/namespace/name`.')),
    phase: Type.Optional(
      Str('The phase it reaches offline: Succeeded, Failed, Pending (waiting), Blocked, Skipped.'),
    ),
    reason: Type.Optional(
      Str(
        'The condition reason where it ends or waits: AllStepsSucceeded, AwaitingApproval, LoopProtection, ConcurrencyLimit, StepFailed, ...',
      ),
    ),
    steps: Type.Optional(
      Type.Array(StepExpect, { description: 'Every step, in order (the same number of them).' }),
    ),
  },
  {
    additionalProperties: false,
    description: 'What must follow for one matching Runbook; only the fields given are compared.',
  },
);
export type RunbookExpect = Static<typeof RunbookExpect>;

export const AlertExpect = Type.Object(
  {
    matched: Type.Optional(
      Type.Array(Type.String(), {
        description: 'Names of the Runbooks that match, all of them (`[]`: none).',
      }),
    ),
    runbooks: Type.Optional(
      Type.Record(Type.String(), RunbookExpect, { description: 'Runbook name → what follows for it.' }),
    ),
  },
  { additionalProperties: false, description: 'What must follow one alert.' },
);
export type AlertExpect = Static<typeof AlertExpect>;

export const TestCase = Type.Object(
  {
    name: Str('Name of the case, in the report.', { minLength: 1 }),
    alert: Type.Optional(TestAlert),
    notification: Type.Optional(
      Type.Union(
        [
          Str('A file with an Alertmanager webhook notification (JSON or YAML), relative to the test file.'),
          Type.Unknown(),
        ],
        {
          description:
            'An Alertmanager webhook notification (version 4), inline or a file; instead of `alert`.',
        },
      ),
    ),
    objects: Type.Optional(
      Type.Array(Free('A Kubernetes object.'), {
        description: "Objects of this case, in addition to (and replacing by name) the file's.",
      }),
    ),
    given: Type.Optional(Given),
    expect: Type.Object(
      {
        ...AlertExpect.properties,
        alerts: Type.Optional(
          Type.Array(AlertExpect, {
            description: 'With a notification of several alerts: one entry per alert, in order.',
          }),
        ),
      },
      { additionalProperties: false, description: 'What must follow the alert.' },
    ),
  },
  { additionalProperties: false, description: 'An alert and what must follow.' },
);
export type TestCase = Static<typeof TestCase>;

export const TestFile = Type.Object(
  {
    runbooks: Type.Array(
      Str('A file of Runbooks (YAML, several documents allowed), relative to the test file.'),
      {
        minItems: 1,
        description: 'The Runbooks under test.',
      },
    ),
    objects: Type.Optional(
      Type.Array(
        Str('A file of Kubernetes objects (YAML, several documents or a List), relative to the test file.'),
        {
          description:
            'The cluster objects the steps plan against (the targets, their ReplicaSets, pods...).',
        },
      ),
    ),
    now: Type.Optional(
      Str('The default time of every case (RFC 3339); default 2026-01-01T00:00:00Z.', {
        format: 'date-time',
      }),
    ),
    cases: Type.Array(TestCase, { minItems: 1, description: 'The cases.' }),
  },
  {
    additionalProperties: false,
    title: 'kube-remediator test file',
    description: 'Cases for `kube-remediator test`.',
  },
);
export type TestFile = Static<typeof TestFile>;

/** An invalid test file: every problem names its field (exit code 2). */
export class TestFileError extends Error {
  override readonly name = 'TestFileError';
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: invalid test file:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}

/** A loaded test file: its Runbooks and objects read, its cases checked. */
export interface LoadedTestFile {
  file: string;
  spec: TestFile;
  runbooks: Runbook[];
  objects: KubeObject[];
  /** The notification of each case that gives one, read and checked. */
  notifications: Map<TestCase, WebhookPayload>;
}

function readYamlDocs(path: string): unknown[] {
  const docs = yaml.loadAll(readFileSync(path, 'utf8')).filter((d) => d !== null && d !== undefined);
  return docs.flatMap((d) => {
    const items = (d as { kind?: string; items?: unknown[] }).kind?.endsWith('List')
      ? (d as { items?: unknown[] }).items
      : undefined;
    return items ?? [d];
  });
}

/** Reads and checks a test file; throws TestFileError naming every wrong field. */
export function loadTestFile(file: string): LoadedTestFile {
  let doc: unknown;
  try {
    doc = yaml.load(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new TestFileError(file, [errorMessage(err)]);
  }
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const e of Value.Errors(TestFile, doc)) {
    // The first (most telling) problem of each field.
    const field = fieldPath(e.path) || '(file)';
    if (seen.has(field)) continue;
    seen.add(field);
    problems.push(`${field}: ${schemaMessage(e)}`);
    if (problems.length >= 20) break;
  }
  if (problems.length) throw new TestFileError(file, problems);
  const spec = doc as TestFile;
  const dir = dirname(file);
  const runbooks: Runbook[] = [];
  spec.runbooks.forEach((f, i) => {
    try {
      for (const d of readYamlDocs(resolve(dir, f))) {
        const rb = d as Runbook;
        if (rb.kind !== 'Runbook')
          problems.push(`runbooks[${i}]: ${f} holds a ${String(rb.kind)}, not a Runbook`);
        else runbooks.push(rb);
      }
    } catch (err) {
      problems.push(`runbooks[${i}]: ${errorMessage(err)}`);
    }
  });
  const objects: KubeObject[] = [];
  (spec.objects ?? []).forEach((f, i) => {
    try {
      const docs = readYamlDocs(resolve(dir, f));
      problems.push(...objectProblems(docs).map((p) => `objects[${i}] (${f}): ${p}`));
      objects.push(...(docs as KubeObject[]));
    } catch (err) {
      problems.push(`objects[${i}]: ${errorMessage(err)}`);
    }
  });
  const notifications = new Map<TestCase, WebhookPayload>();
  spec.cases.forEach((c, i) => {
    const at = `cases[${i}]`;
    if (!c.alert === (c.notification === undefined))
      problems.push(`${at}: give exactly one of alert and notification`);
    if (c.objects) problems.push(...objectProblems(c.objects).map((p) => `${at}.${p}`));
    for (const [j, h] of (c.given?.history ?? []).entries()) {
      if ((h.ago === undefined) === (h.at === undefined))
        problems.push(`${at}.given.history[${j}]: give exactly one of ago and at`);
    }
    if (c.notification !== undefined) {
      let payload: unknown = c.notification;
      if (typeof payload === 'string') {
        try {
          payload = yaml.load(readFileSync(resolve(dir, payload), 'utf8'));
        } catch (err) {
          problems.push(`${at}.notification: ${errorMessage(err)}`);
          return;
        }
      }
      const errs = [...Value.Errors(WebhookPayload, payload)].slice(0, 5);
      for (const e of errs)
        problems.push(`${at}.notification${fieldPath(e.path) ? `.${fieldPath(e.path)}` : ''}: ${e.message}`);
      if (!errs.length) notifications.set(c, payload as WebhookPayload);
    }
  });
  if (problems.length) throw new TestFileError(file, problems);
  return { file, spec, runbooks, objects, notifications };
}

export const DEFAULT_NOW = '2026-01-01T00:00:00Z';

/** `ago` in milliseconds (a valid DURATION by the schema). */
export function agoMs(ago: string): number {
  return parseDuration(ago);
}
