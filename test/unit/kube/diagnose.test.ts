/**
 * Start-up failures against the API server, in words: each kind of failure client-node throws
 * becomes a StartupError with the stable code that decides the exit code, the kubeconfig file,
 * context and server, the cause and the fix. The same failures on a real control plane are in
 * test/e2e/start/startup-failures.test.ts.
 */
import { describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { diagnoseApiFailure, forbiddenError, NoAnswerError } from '../../../src/kube/diagnose.js';
import type { KubeTarget } from '../../../src/kube/kubeconfig.js';

const target: KubeTarget = {
  source: '/home/sre/.kube/config',
  context: 'prod-eu',
  server: 'https://api.prod.example:6443',
  user: 'sre',
};

/** What node-fetch (client-node 1.4) throws for a failed connection. */
const fetchError = (code: string, message = `request failed, reason: ${code}`) =>
  Object.assign(new Error(message), { name: 'FetchError', type: 'system', code, errno: code });

const status = (code: number, message: string) =>
  new k8s.ApiException(code, `HTTP-Code: ${code}`, JSON.stringify({ kind: 'Status', code, message }), {});

describe('diagnoseApiFailure', () => {
  it.each([
    [
      'connection refused',
      fetchError('ECONNREFUSED'),
      'KR_ERR_KUBE_UNAVAILABLE',
      'connection refused: nothing listens at api.prod.example:6443',
      'start the cluster',
    ],
    [
      'unknown host',
      fetchError('ENOTFOUND'),
      'KR_ERR_KUBE_UNAVAILABLE',
      'unknown host',
      'check the host name',
    ],
    [
      'no answer',
      new NoAnswerError(15_000),
      'KR_ERR_KUBE_UNAVAILABLE',
      'no answer within 15 s',
      'VPN, firewall, proxy',
    ],
    [
      'self-signed certificate',
      fetchError('DEPTH_ZERO_SELF_SIGNED_CERT'),
      'KR_ERR_KUBE_UNAVAILABLE',
      'self-signed',
      'certificate-authority',
    ],
    [
      'certificate for another name',
      fetchError('ERR_TLS_CERT_ALTNAME_INVALID'),
      'KR_ERR_KUBE_UNAVAILABLE',
      'not issued for this host',
      'certificate-authority',
    ],
    ['expired certificate', fetchError('CERT_HAS_EXPIRED'), 'KR_ERR_KUBE_UNAVAILABLE', 'expired', 'clock'],
    [
      'credentials rejected',
      status(401, 'Unauthorized'),
      'KR_ERR_KUBE_UNAUTHORIZED',
      'kubeconfig user "sre"',
      'renew the credentials of context "prod-eu"',
    ],
    [
      'RBAC',
      status(403, 'runbooks.kube-remediator.io is forbidden: User "sre" cannot list resource "runbooks"'),
      'KR_ERR_KUBE_FORBIDDEN',
      'cannot list resource "runbooks"',
      'kubectl apply -k config/rbac',
    ],
    ['not ready', status(503, 'etcd not ready'), 'KR_ERR_KUBE_UNAVAILABLE', 'answered 503', '/readyz'],
    [
      'plain http without insecure-skip-tls-verify',
      new Error('HTTP protocol is not allowed when skipTLSVerify is not set or false'),
      'KR_ERR_KUBECONFIG',
      'http://',
      'https://',
    ],
  ])('%s', (_, err, code, cause, fix) => {
    const e = diagnoseApiFailure(err, target, 'connect to the Kubernetes API server');
    expect(e.code).toBe(code);
    expect(e.message).toMatch(/^cannot connect to the Kubernetes API server: /);
    expect(e.details.facts).toEqual(
      expect.arrayContaining([
        ['kubeconfig', target.source],
        ['context', 'prod-eu'],
        ['server', target.server],
      ]),
    );
    expect(e.details.cause).toContain(cause);
    expect(e.details.fix).toContain(fix);
    expect(e.cause).toBe(err);
  });
});

describe('forbiddenError', () => {
  it('lists every missing permission and how to check one', () => {
    const e = forbiddenError(
      [
        { verb: 'list', group: 'kube-remediator.io', resource: 'runbooks' },
        {
          verb: 'patch',
          group: 'kube-remediator.io',
          resource: 'remediations',
          subresource: 'status',
          namespace: 'dash',
        },
      ],
      12,
      target,
    );
    expect(e.code).toBe('KR_ERR_KUBE_FORBIDDEN');
    expect(e.message).toBe('RBAC denies 2 permissions the operator needs to start');
    expect(e.details.facts?.filter(([k]) => k === 'missing')).toEqual([
      ['missing', 'list runbooks.kube-remediator.io (all namespaces / cluster-wide)'],
      ['missing', 'patch remediations/status.kube-remediator.io in namespace dash'],
    ]);
    expect(e.details.cause).toBe(
      '403 Forbidden: RBAC grants the credentials of kubeconfig user "sre" 10 of the 12 permissions the start needs',
    );
    expect(e.details.fix).toContain(
      'kubectl --context prod-eu auth can-i list runbooks.kube-remediator.io -A',
    );
  });
});
