/**
 * The Alertmanager webhook payload, version "4" (prometheus/alertmanager notify/webhook
 * `Message` + template `Data`). Unknown fields are accepted and ignored: newer releases add
 * `notification_reason` and `routeLabels`, and a stricter schema would turn an upgrade of
 * Alertmanager into dropped alerts.
 */
import { Type, type Static } from '@sinclair/typebox';

export const SUPPORTED_VERSION = '4';

const Labels = Type.Record(Type.String(), Type.String());

export const WebhookAlert = Type.Object({
  status: Type.Union([Type.Literal('firing'), Type.Literal('resolved')]),
  labels: Labels,
  annotations: Type.Optional(Labels),
  startsAt: Type.String({ format: 'date-time' }),
  // Alertmanager sends the zero time (0001-01-01T00:00:00Z) for firing alerts: still date-time.
  endsAt: Type.Optional(Type.String({ format: 'date-time' })),
  generatorURL: Type.Optional(Type.String()),
  // Alertmanager's fingerprint is 16 hex digits; the dedup name is derived from it.
  fingerprint: Type.String({ pattern: '^[0-9a-fA-F]{1,64}$' }),
});
export type WebhookAlert = Static<typeof WebhookAlert>;

export const WebhookPayload = Type.Object({
  version: Type.String(),
  groupKey: Type.Optional(Type.String()),
  truncatedAlerts: Type.Optional(Type.Integer({ minimum: 0 })),
  status: Type.Optional(Type.Union([Type.Literal('firing'), Type.Literal('resolved')])),
  receiver: Type.Optional(Type.String()),
  groupLabels: Type.Optional(Labels),
  commonLabels: Type.Optional(Labels),
  commonAnnotations: Type.Optional(Labels),
  externalURL: Type.Optional(Type.String()),
  alerts: Type.Array(WebhookAlert, { maxItems: 10000 }),
});
export type WebhookPayload = Static<typeof WebhookPayload>;
