/** Escalation on time (issue #12, ADR 0019): a Runbook's `escalation` list. */
import { Type, type Static } from '@sinclair/typebox';
import { DURATION } from './shared-types.js';
import { NotifyParams } from './step-types.js';

export const Escalation = Type.Object(
  {
    after: Type.String({
      description:
        'How long after the Remediation was created it must still be unresolved (its alert still firing; without an alert: not Succeeded) to notify, e.g. `1h`.',
      pattern: DURATION,
    }),
    notify: NotifyParams,
  },
  {
    description:
      'Notify once when the Remediation is still unresolved after `after`. It does not stop or wait for the steps; it is recorded in `status.escalations` and as an Event.',
  },
);
export type Escalation = Static<typeof Escalation>;

export const EscalationList = Type.Array(Escalation, {
  description:
    'Notifications on time, each sent once per Remediation (a send cut short by a restart is repeated with the same Idempotency-Key).',
  maxItems: 8,
});
