/**
 * Plain-JSON access to any namespaced object by apiVersion/kind/name.
 *
 * Why not the typed APIs or KubernetesObjectApi.patch as they are: the typed models turn
 * timestamps into Date objects and drop fields they do not know, and
 * KubernetesObjectApi.patch serialises the body through the model of the kind, which cannot
 * carry a JSON-patch array nor strategic directives such as `$patch`. This subclass keeps
 * the kind-to-plural discovery (cached) and auth of KubernetesObjectApi but sends and
 * returns bodies untouched.
 */
import * as k8s from '@kubernetes/client-node';

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
}

/** A Kubernetes object as JSON. */
export type KubeObject = Record<string, unknown> & {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { uid?: string; controller?: boolean; kind?: string; name?: string }[];
    deletionTimestamp?: string;
  };
};

export interface PatchOptions {
  contentType: k8s.PatchStrategy;
  dryRun?: boolean;
  fieldManager?: string;
}

export class RawObjectApi extends k8s.KubernetesObjectApi {
  static forConfig(kc: k8s.KubeConfig): RawObjectApi {
    let api = cache.get(kc);
    if (!api) {
      api = kc.makeApiClient(RawObjectApi);
      api.setDefaultNamespace(kc);
      cache.set(kc, api);
    }
    return api;
  }

  private async path(
    ref: Omit<ObjectRef, 'name'> & { name?: string },
    subresource?: string,
  ): Promise<string> {
    const spec = {
      apiVersion: ref.apiVersion,
      kind: ref.kind,
      metadata: { namespace: ref.namespace, name: ref.name },
    };
    const base = await this.specUriPath(spec, ref.name === undefined ? 'list' : 'read');
    return subresource ? `${base}/${subresource}` : base;
  }

  private async send(
    path: string,
    method: k8s.HttpMethod,
    query: Record<string, string | undefined>,
    body?: { json: unknown; contentType: string },
  ): Promise<KubeObject> {
    const req = this.configuration.baseServer.makeRequestContext(path, method);
    req.setHeaderParam('Accept', 'application/json');
    for (const [k, v] of Object.entries(query)) if (v !== undefined) req.setQueryParam(k, v);
    if (body) {
      req.setHeaderParam('Content-Type', body.contentType);
      req.setBody(JSON.stringify(body.json));
    }
    // 'any' keeps the response as parsed JSON instead of a typed model.
    return (await this.requestPromise(req, 'any')) as unknown as KubeObject;
  }

  async get(ref: ObjectRef): Promise<KubeObject> {
    return this.send(await this.path(ref), k8s.HttpMethod.GET, {});
  }

  /** A GET of any API path (a list page), parsed JSON as the server sent it. */
  async getPath(path: string, query: Record<string, string | undefined> = {}): Promise<KubeObject> {
    return this.send(path, k8s.HttpMethod.GET, query);
  }

  async listIn(ref: Omit<ObjectRef, 'name'>, labelSelector?: string): Promise<{ items: KubeObject[] }> {
    const res = await this.send(await this.path(ref), k8s.HttpMethod.GET, { labelSelector });
    return { items: (res.items as KubeObject[] | undefined) ?? [] };
  }

  async patchRaw(ref: ObjectRef, body: unknown, opts: PatchOptions): Promise<KubeObject> {
    return this.send(
      await this.path(ref),
      k8s.HttpMethod.PATCH,
      { dryRun: opts.dryRun ? 'All' : undefined, fieldManager: opts.fieldManager },
      { json: body, contentType: opts.contentType },
    );
  }
}

const cache = new WeakMap<k8s.KubeConfig, RawObjectApi>();
