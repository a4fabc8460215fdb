/** What a step read (ActionOutcome.output) lands in status.steps[i].output and its audit row. */
import { describe, expect, it } from '@jest/globals';
import { next } from '../../../../src/controller/remediation/protocol.js';
import type { ActionOutcome } from '../../../../src/actions/types.js';
import { aRemediation, observed, withStatus } from './builders.js';

/** `next` after apply() gave `outcome` for the first step of a Remediation, checkpointed. */
function applied(outcome: ActionOutcome) {
  const rem = aRemediation();
  const obs = observed(rem);
  const running = withStatus(
    rem,
    next(obs, { op: { kind: 'plan', index: 0, attempt: 1 }, result: { plan: {} } }).status,
  );
  const now = observed(running);
  return next(now, { op: { kind: 'apply', index: 0, attempt: 1 }, outcome, at: now.now });
}

const audits = (d: ReturnType<typeof applied>) =>
  d.notes.filter((n) => n.kind === 'audit') as unknown as {
    event: string;
    details?: Record<string, unknown>;
  }[];

describe('StepStatus.output', () => {
  it('a finished step records its output, in status and in the audit row', () => {
    const output = { reply: '# Persistence\r\naof_enabled:1' };
    const d = applied({ kind: 'done', message: 'INFO answered', output });
    expect(d.status.steps?.[0]).toMatchObject({ phase: 'Succeeded', output });
    expect(audits(d).find((a) => a.event === 'step_finished')?.details).toMatchObject({ output });
  });

  it('a step still waiting keeps what its last look read', () => {
    const output = { samples: [{ labels: {}, value: 0.2 }] };
    const d = applied({
      kind: 'inProgress',
      message: 'sample 0.2 is not < 0.01',
      requeueAfterMs: 5000,
      output,
    });
    expect(d.status.steps?.[0]).toMatchObject({ phase: 'Running', output });
  });

  it('a failed step records the output that explains it, in status and in the audit row', () => {
    const output = { status: 200, body: '{"duplicate":"false"}' };
    const d = applied({
      kind: 'failed',
      message: 'POST http://dedup/pcs returned 200, but $.duplicate is "false", expected "true"',
      code: 'KR_ERR_ACTION_FAILED',
      reason: 'UnexpectedResponse',
      retryable: false,
      output,
    });
    expect(d.status.steps?.[0]).toMatchObject({ phase: 'Failed', output });
    expect(audits(d).find((a) => a.event === 'step_finished')?.details).toMatchObject({ output });
  });

  it('an outcome without output leaves none behind', () => {
    const d = applied({ kind: 'done', message: 'ok' });
    expect(d.status.steps?.[0]?.output).toBeUndefined();
  });
});
