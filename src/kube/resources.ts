/** Typed access to our own custom resources, Remediation and Runbook. */
import type * as k8s from '@kubernetes/client-node';
import { GROUP, RESOURCES, VERSION } from '../api/v1alpha1/constants.js';
import type { Remediation, RemediationStatus, Runbook, RunbookStatus } from '../api/v1alpha1/schema.js';
import { PATCH, type KubeClients } from './client.js';

type Plural = (typeof RESOURCES)[keyof typeof RESOURCES]['plural'];

interface ListOf<T> {
  items: T[];
  metadata?: { resourceVersion?: string; continue?: string };
}

export class CustomResources<T extends Remediation | Runbook, S> {
  constructor(
    private readonly custom: k8s.CustomObjectsApi,
    readonly plural: Plural,
  ) {}

  private base(namespace: string): { group: string; version: string; namespace: string; plural: string } {
    return { group: GROUP, version: VERSION, namespace, plural: this.plural };
  }

  async get(namespace: string, name: string): Promise<T> {
    return (await this.custom.getNamespacedCustomObject({ ...this.base(namespace), name })) as T;
  }

  async list(namespace?: string, labelSelector?: string): Promise<ListOf<T>> {
    if (namespace) {
      return (await this.custom.listNamespacedCustomObject({
        ...this.base(namespace),
        labelSelector,
      })) as ListOf<T>;
    }
    return (await this.custom.listClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: this.plural,
      labelSelector,
    })) as ListOf<T>;
  }

  async create(namespace: string, body: T, dryRun?: boolean): Promise<T> {
    return (await this.custom.createNamespacedCustomObject({
      ...this.base(namespace),
      body,
      dryRun: dryRun ? 'All' : undefined,
    })) as T;
  }

  /** Merge-patches the status subresource. With `resourceVersion` it is a precondition (409 on change). */
  async patchStatus(
    namespace: string,
    name: string,
    status: Partial<S>,
    resourceVersion?: string,
  ): Promise<T> {
    const body: Record<string, unknown> = { status };
    if (resourceVersion) body.metadata = { resourceVersion };
    return (await this.custom.patchNamespacedCustomObjectStatus(
      { ...this.base(namespace), name, body },
      PATCH.merge,
    )) as T;
  }

  /** Replaces the whole status (PUT): a precondition on the object's resourceVersion. */
  async replaceStatus(obj: T): Promise<T> {
    return (await this.custom.replaceNamespacedCustomObjectStatus({
      ...this.base(obj.metadata.namespace!),
      name: obj.metadata.name!,
      body: obj,
    })) as T;
  }

  /** Merge-patches the main resource (metadata/spec). */
  async patch(namespace: string, name: string, body: Record<string, unknown>): Promise<T> {
    return (await this.custom.patchNamespacedCustomObject(
      { ...this.base(namespace), name, body },
      PATCH.merge,
    )) as T;
  }

  /** Deletes the object only if it is still the one with this uid (a precondition: 409 if not). */
  async deleteUid(namespace: string, name: string, uid: string): Promise<void> {
    await this.custom.deleteNamespacedCustomObject({
      ...this.base(namespace),
      name,
      body: { preconditions: { uid } },
    });
  }

  async delete(namespace: string, name: string): Promise<void> {
    await this.custom.deleteNamespacedCustomObject({ ...this.base(namespace), name });
  }
}

export function remediations(c: KubeClients): CustomResources<Remediation, RemediationStatus> {
  return new CustomResources<Remediation, RemediationStatus>(c.custom, RESOURCES.remediation.plural);
}

export function runbooks(c: KubeClients): CustomResources<Runbook, RunbookStatus> {
  return new CustomResources<Runbook, RunbookStatus>(c.custom, RESOURCES.runbook.plural);
}
