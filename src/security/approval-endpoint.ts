/**
 * The verified approval endpoint: `POST /approvals/v1/namespaces/{ns}/remediations/{name}`
 * with `{"decision": "approve"|"reject"}` and the caller's own Kubernetes bearer token (what
 * `kube-remediator approve|reject` sends). The token is checked with a TokenReview, the user
 * with a SubjectAccessReview for verb `approve` on `remediations.kube-remediator.io` (the name
 * included) in that namespace; then the operator writes the verified user into
 * `status.approval` (or `status.rejection`), which the gates read (approval.ts).
 *
 * Why not kubectl: an annotation, or a status field written by the approver, says whatever its
 * writer wants. Kubernetes tells who a token belongs to only to whoever holds the token.
 */
import * as k8s from '@kubernetes/client-node';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GROUP, RESOURCES } from '../api/v1alpha1/constants.js';
import { apiErrorMessage, isConflict, isNotFound, isUnavailable, type KubeClients } from '../kube/client.js';
import { remediations } from '../kube/resources.js';
import type { Logger } from '../observability/logger.js';
import type { Clock } from '../util/clock.js';
import { ERROR_CODES, type ErrorCode } from '../util/errors.js';
import { decisionRefusal, fourEyesRefusal, type Decision } from './approval.js';

export const APPROVAL_PATH = '/approvals/v1/namespaces/:namespace/remediations/:name';
/** The verb a person needs on remediations to approve or reject (it exists only in RBAC). */
export const APPROVE_VERB = 'approve';

export interface VerifiedUser {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

/** The two questions the endpoint asks the API server; an interface so tests can count them. */
export interface Reviewer {
  /** The user the token belongs to, or undefined when the API server does not accept it. */
  authenticate(token: string): Promise<VerifiedUser | undefined>;
  /** Whether the user may `approve` that Remediation, and the authorizer's reason. */
  mayApprove(
    user: VerifiedUser,
    namespace: string,
    name: string,
  ): Promise<{ allowed: boolean; reason: string }>;
}

export class KubeReviewer implements Reviewer {
  private readonly authn: k8s.AuthenticationV1Api;
  private readonly authz: k8s.AuthorizationV1Api;
  constructor(clients: KubeClients) {
    this.authn = clients.kc.makeApiClient(k8s.AuthenticationV1Api);
    this.authz = clients.kc.makeApiClient(k8s.AuthorizationV1Api);
  }

  async authenticate(token: string): Promise<VerifiedUser | undefined> {
    const review = await this.authn.createTokenReview({ body: { spec: { token } } });
    const u = review.status?.user;
    if (!review.status?.authenticated || !u?.username) return undefined;
    return {
      username: u.username,
      groups: u.groups ?? [],
      ...(u.uid ? { uid: u.uid } : {}),
      ...(u.extra ? { extra: u.extra } : {}),
    };
  }

  async mayApprove(
    user: VerifiedUser,
    namespace: string,
    name: string,
  ): Promise<{ allowed: boolean; reason: string }> {
    const review = await this.authz.createSubjectAccessReview({
      body: {
        spec: {
          user: user.username,
          groups: user.groups,
          ...(user.uid ? { uid: user.uid } : {}),
          ...(user.extra ? { extra: user.extra } : {}),
          resourceAttributes: {
            namespace,
            name,
            verb: APPROVE_VERB,
            group: GROUP,
            resource: RESOURCES.remediation.plural,
          },
        },
      },
    });
    return { allowed: review.status?.allowed === true, reason: review.status?.reason ?? '' };
  }
}

export interface ApprovalDeps {
  clients: KubeClients;
  reviewer: Reviewer;
  clock: Clock;
  log: Logger;
  /** approvals.fourEyes: the creator of a Remediation may not approve it. */
  fourEyes?: boolean;
}

interface Answer {
  status: number;
  body: Record<string, unknown> & { code?: ErrorCode; message: string };
}

const refuse = (status: number, code: ErrorCode, message: string): Answer => ({
  status,
  body: { code, message },
});

/** Registers the route on the webhook's fastify app (its error and 404 handlers apply). */
export function registerApprovalRoutes(app: FastifyInstance, d: ApprovalDeps): void {
  app.route({
    method: 'POST',
    url: APPROVAL_PATH,
    schema: {
      body: {
        type: 'object',
        required: ['decision'],
        properties: {
          decision: { type: 'string', enum: ['approve', 'reject'] },
          // One step's approval (`steps[].requireApproval`); absent: the run's.
          step: { type: 'string', minLength: 1, maxLength: 63 },
        },
      },
    },
    handler: async (req: FastifyRequest, reply: FastifyReply) => {
      const a = await decide(d, req);
      if (a.status === 401) void reply.header('www-authenticate', 'Bearer realm="kube-remediator"');
      return reply.code(a.status).send(a.body);
    },
  });
}

async function decide(d: ApprovalDeps, req: FastifyRequest): Promise<Answer> {
  const { namespace, name } = req.params as { namespace: string; name: string };
  const { decision, step } = req.body as { decision: Decision; step?: string };
  const auth = req.headers.authorization ?? '';
  const token = /^Bearer\s+(\S+)$/i.exec(auth)?.[1];
  if (!token)
    return refuse(
      401,
      ERROR_CODES.unauthorized,
      'send your Kubernetes bearer token (kube-remediator approve does)',
    );
  try {
    const user = await d.reviewer.authenticate(token);
    if (!user)
      return refuse(401, ERROR_CODES.unauthorized, 'the API server did not accept the token (TokenReview)');
    const may = await d.reviewer.mayApprove(user, namespace, name);
    const log = d.log.child({
      remediation: `${namespace}/${name}`,
      user: user.username,
      decision,
      ...(step !== undefined ? { step } : {}),
    });
    if (!may.allowed) {
      log.warn('approval refused', { reason: may.reason || 'no RBAC rule' });
      return refuse(
        403,
        ERROR_CODES.approvalForbidden,
        `user "${user.username}" may not ${decision} remediations in namespace ${namespace}: ` +
          `it needs verb "${APPROVE_VERB}" on resource "${RESOURCES.remediation.plural}" in API group "${GROUP}" ` +
          `(kubectl -n ${namespace} create role remediation-approver --verb=${APPROVE_VERB} --resource=${RESOURCES.remediation.plural}.${GROUP}, then bind it)`,
      );
    }
    return await record(d, { namespace, name, decision, step }, user, log);
  } catch (err) {
    if (isNotFound(err))
      return refuse(404, ERROR_CODES.notFound, `remediation ${namespace}/${name} not found`);
    if (isUnavailable(err))
      return refuse(503, ERROR_CODES.kubeUnavailable, `API server unavailable: ${apiErrorMessage(err)}`);
    throw err;
  }
}

interface Ask {
  namespace: string;
  name: string;
  decision: Decision;
  step: string | undefined;
}

/**
 * Writes the verified decision, with the Remediation's resourceVersion as precondition: a
 * step's approval is appended to `status.stepApprovals` (a merge patch replaces the list, so
 * the precondition is what keeps a concurrent one).
 */
async function record(d: ApprovalDeps, ask: Ask, user: VerifiedUser, log: Logger): Promise<Answer> {
  const { namespace, name, decision } = ask;
  // A rejection is of the run, whichever step waits.
  const step = decision === 'approve' ? ask.step : undefined;
  const rems = remediations(d.clients);
  for (let attempt = 0; ; attempt++) {
    const rem = await rems.get(namespace, name);
    const refusal = decisionRefusal(rem, decision, step);
    if (refusal) return refuse(409, ERROR_CODES.conflict, `remediation ${namespace}/${name}: ${refusal}`);
    const selfApproval = decision === 'approve' ? fourEyesRefusal(rem, user.username, d.fourEyes) : undefined;
    if (selfApproval) {
      log.warn('approval refused', { reason: 'four eyes' });
      return refuse(403, ERROR_CODES.approvalForbidden, `remediation ${namespace}/${name}: ${selfApproval}`);
    }
    const signoff = {
      by: user.username,
      at: d.clock.now().toISOString(),
      verified: true,
      groups: user.groups.slice(0, 64),
    };
    const patch =
      decision === 'reject'
        ? { rejection: signoff }
        : step === undefined
          ? { approval: signoff }
          : { stepApprovals: [...(rem.status?.stepApprovals ?? []), { step, ...signoff }] };
    try {
      await rems.patchStatus(namespace, name, patch, rem.metadata.resourceVersion);
    } catch (err) {
      // The reconciler wrote meanwhile: look again (it may have started or finished).
      if (isConflict(err) && attempt < 5) continue;
      throw err;
    }
    log.info('verified decision recorded', {});
    const what = step === undefined ? '' : `step ${step} `;
    return {
      status: 200,
      body: {
        message: `${what}${decision === 'approve' ? 'approved' : 'rejected'} by ${user.username}`,
        remediation: `${namespace}/${name}`,
        decision,
        ...(step !== undefined ? { step } : {}),
        by: user.username,
      },
    };
  }
}
