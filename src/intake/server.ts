/**
 * The Alertmanager webhook as a fastify app, built by a factory and tested through inject().
 * Every error answer is `{code: 'KR_ERR_...', message}` with a stable code; the status tells
 * Alertmanager what to do: 2xx done, 5xx retry, 4xx drop (so 4xx only for requests that can
 * never succeed: bad credentials, too large, wrong type, invalid payload).
 */
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Server as HttpsServer } from 'node:https';
import type { Config } from '../config/config.js';
import { ERROR_CODES, RemediatorError, type ErrorCode } from '../util/errors.js';
import { WebhookAuth } from './auth.js';
import { AlertIntake, type AlertResult, type IntakeDeps } from './intake.js';
import { SUPPORTED_VERSION, WebhookPayload } from './payload.js';
import { registerApprovalRoutes, type ApprovalDeps } from '../security/approval-endpoint.js';
import { ReloadingKeyPair, tlsEnabled } from './tls.js';

export interface WebhookServerDeps extends IntakeDeps {
  config: Config['webhook'];
  /** The verified approval endpoint (src/security/approval-endpoint.ts), when enabled. */
  approvals?: ApprovalDeps;
}

export interface WebhookServer {
  readonly app: FastifyInstance;
  readonly intake: AlertIntake;
  /** Set when the port serves HTTPS (webhook.tls): the certificate, reloaded as it changes. */
  readonly tls?: ReloadingKeyPair;
}

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  /** For invalid payloads: the failing field, e.g. `alerts[0].startsAt`. */
  field?: string;
  /** For 5xx: what happened to each alert, so an operator can see which one failed. */
  alerts?: AlertResult[];
}

const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  [ERROR_CODES.unauthorized]: 401,
  [ERROR_CODES.payloadTooLarge]: 413,
  [ERROR_CODES.unsupportedMediaType]: 415,
  [ERROR_CODES.invalidPayload]: 400,
  [ERROR_CODES.unsupportedVersion]: 400,
  [ERROR_CODES.notFound]: 404,
  [ERROR_CODES.kubeUnavailable]: 503,
  [ERROR_CODES.storeUnavailable]: 503,
};

/** Every status the webhook answers with, pre-initialised so that the first 401 or 503 is an increase. */
const ANSWERED_STATUSES = [200, ...new Set(Object.values(HTTP_STATUS)), 500].sort((a, b) => a - b);

export function httpStatusOf(code: ErrorCode): number {
  return HTTP_STATUS[code] ?? 500;
}

function send(reply: FastifyReply, body: ErrorBody): FastifyReply {
  return reply.code(httpStatusOf(body.code)).send(body);
}

interface AjvError {
  instancePath?: string;
  message?: string;
  keyword?: string;
  params?: { missingProperty?: string; allowedValues?: unknown[] };
}

/** `/alerts/0/startsAt` → `alerts[0].startsAt`. */
function fieldName(e: AjvError): string {
  const parts = (e.instancePath ?? '').split('/').filter(Boolean);
  if (e.keyword === 'required' && e.params?.missingProperty) parts.push(e.params.missingProperty);
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out ? `.${p}` : p;
  return out || '(body)';
}

/** Maps fastify's own errors (parser, limits, validation) to our codes. */
function toErrorBody(err: FastifyError & { validation?: AjvError[] }): ErrorBody {
  if (err.validation && err.validation.length > 0) {
    const e = err.validation[0]!;
    const field = fieldName(e);
    const allowed = e.params?.allowedValues
      ? ` (${e.params.allowedValues.map((v) => JSON.stringify(v)).join(', ')})`
      : '';
    return {
      code: ERROR_CODES.invalidPayload,
      message: `invalid payload: ${field} ${e.message ?? 'is invalid'}${allowed}`,
      field,
    };
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { code: ERROR_CODES.payloadTooLarge, message: 'request body too large' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { code: ERROR_CODES.unsupportedMediaType, message: 'content type must be application/json' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { code: ERROR_CODES.invalidPayload, message: 'invalid payload: empty body' };
  }
  if (err.statusCode === 400 || err instanceof SyntaxError) {
    return { code: ERROR_CODES.invalidPayload, message: `invalid payload: ${err.message}` };
  }
  if (err.statusCode === 413) return { code: ERROR_CODES.payloadTooLarge, message: 'request body too large' };
  if (err.statusCode === 415)
    return { code: ERROR_CODES.unsupportedMediaType, message: 'content type must be application/json' };
  if (err instanceof RemediatorError) return { code: err.code, message: err.message };
  return { code: ERROR_CODES.kubeUnavailable, message: 'internal error; Alertmanager will retry' };
}

/**
 * Builds the webhook app. Auth is on unless `config.auth.disabled`; without any credential
 * configured it throws KR_ERR_CONFIG (a webhook that anyone can call is never an accident).
 * Call `app.close()` to stop: it waits for the best-effort writes and stops watching secret files.
 */
export function buildWebhookServer(deps: WebhookServerDeps): WebhookServer {
  const { config, metrics, log } = deps;
  const auth = new WebhookAuth(config.auth, log);
  let tls: ReloadingKeyPair | undefined;
  try {
    tls = tlsEnabled(config.tls) ? new ReloadingKeyPair(config.tls, log) : undefined;
  } catch (err) {
    auth.close();
    throw err;
  }
  const intake = new AlertIntake(deps);
  const opts = { bodyLimit: config.bodyLimit, logger: false, return503OnClosing: true } as const;
  // With TLS the server is an https.Server; fastify's API on it is the same, only its type differs.
  const app = tls ? (Fastify({ ...opts, https: tls.pair }) as unknown as FastifyInstance) : Fastify(opts);
  tls?.attach(app.server as unknown as HttpsServer);

  // Only JSON: fastify would also take text/plain, which Alertmanager never sends.
  app.removeContentTypeParser('text/plain');

  for (const code of ANSWERED_STATUSES) metrics.webhookRequests.inc({ code: String(code) }, 0);
  app.addHook('onResponse', (_req, reply, done) => {
    metrics.webhookRequests.inc({ code: String(reply.statusCode) });
    done();
  });

  app.setErrorHandler((err: FastifyError & { validation?: AjvError[] }, req, reply) => {
    const body = toErrorBody(err);
    if (httpStatusOf(body.code) >= 500)
      log.error('webhook request failed', { path: req.url.split('?')[0], error: err.message });
    return send(reply, body);
  });
  app.setNotFoundHandler((req, reply) =>
    send(reply, { code: ERROR_CODES.notFound, message: `no route ${req.method} ${req.url.split('?')[0]}` }),
  );

  app.addHook('onClose', async () => {
    auth.close();
    tls?.close();
    await intake.flush();
  });

  app.route({
    method: 'POST',
    url: config.path,
    schema: { body: WebhookPayload },
    // Before the body is read: an unauthenticated sender learns nothing, not even the limits.
    onRequest: async (req: FastifyRequest, reply: FastifyReply) => {
      const queryToken = (req.query as Record<string, unknown> | undefined)?.token;
      const ok = auth.check({
        authorization: req.headers.authorization,
        queryToken: typeof queryToken === 'string' ? queryToken : undefined,
      });
      if (ok) return;
      return send(reply.header('www-authenticate', 'Bearer realm="kube-remediator"'), {
        code: ERROR_CODES.unauthorized,
        message: 'unauthorized',
      });
    },
    // Before schema validation: another version has another shape, and naming its first
    // odd field would hide the real problem.
    preValidation: async (req: FastifyRequest, reply: FastifyReply) => {
      const version = (req.body as { version?: unknown } | null)?.version;
      if (version === undefined || version === SUPPORTED_VERSION) return;
      return send(reply, {
        code: ERROR_CODES.unsupportedVersion,
        message: `unsupported payload version ${JSON.stringify(version)}: only version "${SUPPORTED_VERSION}" (Alertmanager webhook) is supported`,
      });
    },
    handler: async (req, reply) => {
      const payload = req.body as WebhookPayload;
      const result = await intake.handle(payload.alerts);
      if (result.failure) {
        return send(reply, {
          code: result.failure.code,
          message: result.failure.message,
          alerts: result.alerts,
        });
      }
      return reply.code(200).send({ status: 'ok', received: payload.alerts.length, alerts: result.alerts });
    },
  });

  // Its own authentication (the caller's Kubernetes token), not the webhook's credential.
  if (deps.approvals) registerApprovalRoutes(app, deps.approvals);

  return { app, intake, ...(tls ? { tls } : {}) };
}
