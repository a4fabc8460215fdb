/**
 * Clients that act as another user: client-node sends `Impersonate-User` for a kubeconfig user
 * with `impersonateUser` (kubectl's `--as`), on typed and raw calls alike (KubeConfig
 * applyOptions). One copy of the kubeconfig per impersonated user, kept while the operator runs;
 * the API server adds the ServiceAccount's groups (system:serviceaccounts, ...:<namespace>)
 * itself when none are sent.
 */
import * as k8s from '@kubernetes/client-node';
import { makeClients, type KubeClients } from './client.js';
import type { Identity } from '../security/identity.js';

/** Distinct impersonated users kept; beyond it the least recently used is dropped (a new copy is cheap). */
export const MAX_IMPERSONATED = 256;

export class ImpersonatingClients {
  private readonly byUser = new Map<string, KubeClients>();

  constructor(private readonly base: KubeClients) {}

  /** The operator's own clients, or clients that impersonate the identity's ServiceAccount. */
  as(identity: Identity): KubeClients {
    if (identity.kind === 'operator') return this.base;
    return this.forUser(identity.username);
  }

  forUser(username: string): KubeClients {
    let clients = this.byUser.get(username);
    if (clients) {
      // Most recently used last.
      this.byUser.delete(username);
    } else {
      clients = makeClients(impersonatingConfig(this.base.kc, username));
      if (this.byUser.size >= MAX_IMPERSONATED) this.byUser.delete(this.byUser.keys().next().value!);
    }
    this.byUser.set(username, clients);
    return clients;
  }
}

/** A copy of `kc` whose current user impersonates `username`. */
export function impersonatingConfig(kc: k8s.KubeConfig, username: string): k8s.KubeConfig {
  const current = kc.getCurrentUser();
  if (!current) throw new Error('the kubeconfig has no current user to impersonate from');
  const copy = new k8s.KubeConfig();
  copy.loadFromOptions({
    clusters: kc.getClusters(),
    users: kc.getUsers().map((u) => (u.name === current.name ? { ...u, impersonateUser: username } : u)),
    contexts: kc.getContexts(),
    currentContext: kc.getCurrentContext(),
  });
  return copy;
}
