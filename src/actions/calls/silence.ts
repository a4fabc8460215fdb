/**
 * silence: silences the alert that triggered the Remediation in Alertmanager (API v2), with a
 * matcher per alert label. The stamp goes in the comment, so a repeated apply finds the
 * silence it already made instead of adding a second; revert expires it.
 */
import type { Action, ActionContext, ActionOutcome, Plan } from '../types.js';
import type { Step, StepStatus } from '../../api/v1alpha1/schema.js';
import { ERROR_CODES, errorMessage } from '../../util/errors.js';
import { parseDuration } from '../../util/duration.js';
import { done, failed, isFailed } from '../outcome.js';
import { requireParams, validateParamsPresent } from '../step-input.js';
import { callFailure, skippedInDryRun } from '../services/replies.js';
import { httpRequest, statusExpected, type HttpReply } from '../services/http.js';
import { redactUrl } from '../services/url.js';
import { validateUrlField } from '../services/url.js';

export interface SilenceMatcher {
  name: string;
  value: string;
  isRegex: boolean;
  isEqual: boolean;
}

export interface SilenceBody {
  matchers: SilenceMatcher[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
}

/** The silence for an alert's labels, from now for `duration` (pure). */
export function silenceBody(
  labels: Record<string, string>,
  now: Date,
  duration: string,
  comment: string | undefined,
  stamp: string,
): SilenceBody {
  const matchers = Object.entries(labels)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => ({ name, value, isRegex: false, isEqual: true }));
  return {
    matchers,
    startsAt: now.toISOString(),
    endsAt: new Date(now.getTime() + parseDuration(duration)).toISOString(),
    createdBy: 'kube-remediator',
    comment: `${comment ?? 'silenced by kube-remediator'} [${stampTag(stamp)}]`,
  };
}

const stampTag = (stamp: string): string => `kube-remediator ${stamp}`;

export function validateSilence(step: Step): string[] {
  const missing = validateParamsPresent(step, 'silence');
  if (missing.length) return missing;
  const p = step.silence!;
  const errors = validateUrlField(p.alertmanagerUrl, 'silence.alertmanagerUrl');
  try {
    if (parseDuration(p.duration) <= 0) errors.push('silence.duration: must be longer than 0s');
  } catch (err) {
    errors.push(`silence.duration: ${errorMessage(err)}`);
  }
  return errors;
}

const base = (url: string): string => url.replace(/\/+$/, '');

/** An active silence this step already made, found by the stamp in its comment. */
async function existingSilence(url: string, stamp: string): Promise<string | undefined> {
  const reply = await httpRequest(`${base(url)}/api/v2/silences`, { method: 'GET' });
  if (reply.status !== 200) return undefined;
  const silences = JSON.parse(reply.body) as { id?: string; comment?: string; status?: { state?: string } }[];
  return silences.find(
    (s) => s.status?.state !== 'expired' && (s.comment ?? '').includes(`[${stampTag(stamp)}]`),
  )?.id;
}

async function apply(ctx: ActionContext, _record: StepStatus): Promise<ActionOutcome> {
  const p = requireParams(ctx, 'silence');
  if (isFailed(p)) return p;
  const labels = ctx.remediation.spec.alert?.labels ?? {};
  if (Object.keys(labels).length === 0) {
    return failed(
      ERROR_CODES.invalidSpec,
      'NoAlertLabels',
      'silence: the Remediation has no alert labels to silence (spec.alert.labels)',
      false,
    );
  }
  const body = silenceBody(labels, ctx.clock.now(), p.duration, p.comment, ctx.stamp);
  const what = `silence ${body.matchers.map((m) => `${m.name}="${m.value}"`).join(',')} for ${p.duration} in ${redactUrl(p.alertmanagerUrl)}`;
  if (ctx.dryRun) return skippedInDryRun(`create ${what}`, { url: redactUrl(p.alertmanagerUrl), body });
  let reply: HttpReply;
  try {
    const id = await existingSilence(p.alertmanagerUrl, ctx.stamp);
    if (id) return done(`${what} already exists (${id})`, { after: { silenceID: id } });
    reply = await httpRequest(`${base(p.alertmanagerUrl)}/api/v2/silences`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  } catch (err) {
    return callFailure(what, undefined, err);
  }
  if (!statusExpected(reply.status, undefined)) return callFailure(what, reply);
  const id = (JSON.parse(reply.body) as { silenceID?: string }).silenceID;
  return done(`created ${what} (${id})`, { after: { silenceID: id, endsAt: body.endsAt } });
}

async function revert(ctx: ActionContext, record: StepStatus): Promise<ActionOutcome> {
  const p = requireParams(ctx, 'silence');
  if (isFailed(p)) return p;
  const id = record.after?.silenceID;
  if (typeof id !== 'string')
    return failed(
      ERROR_CODES.invalidSpec,
      'NothingRecorded',
      'no silence id was recorded, so there is nothing to expire',
      false,
    );
  const what = `expire silence ${id} in ${redactUrl(p.alertmanagerUrl)}`;
  if (ctx.dryRun) return skippedInDryRun(what, { silenceID: id });
  let reply: HttpReply;
  try {
    reply = await httpRequest(`${base(p.alertmanagerUrl)}/api/v2/silence/${encodeURIComponent(id)}`, {
      method: 'DELETE',
    });
  } catch (err) {
    return callFailure(what, undefined, err);
  }
  // 404: the silence is already gone, which is what revert wants.
  if (!statusExpected(reply.status, undefined) && reply.status !== 404) return callFailure(what, reply);
  return done(`expired silence ${id}`);
}

export const silence: Action = {
  name: 'silence',
  mutating: true,
  reversible: true,
  validate: validateSilence,
  plan: (): Promise<Plan> => Promise.resolve({}),
  apply,
  revert,
};
