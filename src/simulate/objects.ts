/**
 * A read-only API server in memory, for `kube-remediator test` and `plan` without a cluster:
 * the actions' plan() functions run unchanged, through @kubernetes/client-node, and their reads
 * (GET of an object, a scale subresource, a list by label selector, discovery) are answered
 * from the objects the test file gives, as the API server would answer them. Nothing is sent
 * anywhere: the requests end in this HttpLibrary.
 *
 * A writable set also takes PATCH (JSON patch, merge patch, and strategic merge patch as a
 * merge patch whose lists of named items merge by name, which is what the strategic patches of
 * the actions need) and DELETE, so that a case's Kubernetes steps really apply, in memory, and a
 * later step plans on what an earlier one left (scale to 0, then back to 3 reads 0). A
 * read-only set refuses writes (405).
 *
 * Why not the target cache (TargetReader) alone: rolloutUndo and deletePod list ReplicaSets,
 * ControllerRevisions and Pods, and planOnCached re-reads a refused plan with a GET. Serving the
 * requests keeps every read path of plan() the same as in the operator.
 */
import * as k8s from '@kubernetes/client-node';
import { makeClients, type KubeClients } from '../kube/client.js';
import type { KubeObject } from '../kube/raw-object.js';
import { applyJsonPatch, applyMergePatch } from '../actions/kubernetes/patch-apply.js';
import type { JsonPatchOp } from '../actions/kubernetes/patch-paths.js';
import { errorMessage } from '../util/errors.js';

/** The plural and scope of the kinds a Runbook's steps touch; other kinds guess `<kind>s`, namespaced. */
const KNOWN: Record<string, { plural: string; namespaced: boolean }> = {
  Deployment: { plural: 'deployments', namespaced: true },
  StatefulSet: { plural: 'statefulsets', namespaced: true },
  DaemonSet: { plural: 'daemonsets', namespaced: true },
  ReplicaSet: { plural: 'replicasets', namespaced: true },
  ControllerRevision: { plural: 'controllerrevisions', namespaced: true },
  Pod: { plural: 'pods', namespaced: true },
  ConfigMap: { plural: 'configmaps', namespaced: true },
  Secret: { plural: 'secrets', namespaced: true },
  Service: { plural: 'services', namespaced: true },
  Namespace: { plural: 'namespaces', namespaced: false },
  Node: { plural: 'nodes', namespaced: false },
  HorizontalPodAutoscaler: { plural: 'horizontalpodautoscalers', namespaced: true },
  CronJob: { plural: 'cronjobs', namespaced: true },
  Job: { plural: 'jobs', namespaced: true },
  Ingress: { plural: 'ingresses', namespaced: true },
  PersistentVolumeClaim: { plural: 'persistentvolumeclaims', namespaced: true },
};

/** The group versions every set serves, so a Runbook on a kind with no object gets a 404, not a discovery error. */
const BUILTIN_GROUP_VERSIONS: Record<string, string[]> = {
  v1: ['Pod', 'ConfigMap', 'Secret', 'Service', 'Namespace', 'Node', 'PersistentVolumeClaim'],
  'apps/v1': ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'ControllerRevision'],
  'autoscaling/v2': ['HorizontalPodAutoscaler'],
  'batch/v1': ['CronJob', 'Job'],
  'networking.k8s.io/v1': ['Ingress'],
};

const SCALABLE = new Set(['Deployment', 'StatefulSet', 'ReplicaSet']);

function pluralOf(kind: string): { plural: string; namespaced: boolean } {
  return KNOWN[kind] ?? { plural: `${kind.toLowerCase()}s`, namespaced: true };
}

/** What a test file may get wrong in its objects, named so the file can be fixed. */
export function objectProblems(objects: readonly unknown[]): string[] {
  const out: string[] = [];
  objects.forEach((o, i) => {
    const obj = o as KubeObject | null;
    if (!obj || typeof obj !== 'object') out.push(`objects[${i}]: must be a Kubernetes object`);
    else if (typeof obj.apiVersion !== 'string') out.push(`objects[${i}].apiVersion: required`);
    else if (typeof obj.kind !== 'string') out.push(`objects[${i}].kind: required`);
    else if (typeof obj.metadata?.name !== 'string') out.push(`objects[${i}].metadata.name: required`);
  });
  return out;
}

interface Route {
  groupVersion: string;
  namespace?: string;
  plural: string;
  name?: string;
  subresource?: string;
}

/** `/api/v1/namespaces/ns/pods/x`, `/apis/apps/v1/deployments`: the parts of a resource path. */
function parsePath(pathname: string): Route | { discovery: string } | undefined {
  const parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  let gv: string;
  let rest: string[];
  if (parts[0] === 'api' && parts[1]) {
    gv = parts[1];
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts[1] && parts[2]) {
    gv = `${parts[1]}/${parts[2]}`;
    rest = parts.slice(3);
  } else return undefined;
  if (rest.length === 0) return { discovery: gv };
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural, name, subresource] = rest;
  if (!plural) return undefined;
  return {
    groupVersion: gv,
    plural,
    ...(namespace !== undefined ? { namespace } : {}),
    ...(name !== undefined ? { name } : {}),
    ...(subresource !== undefined ? { subresource } : {}),
  };
}

/** Kubernetes label selectors: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`. */
export function selectorMatches(selector: string | undefined, labels: Record<string, string>): boolean {
  if (!selector?.trim()) return true;
  // Split on commas outside parentheses.
  const terms: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      terms.push(cur);
      cur = '';
    } else cur += ch;
  }
  terms.push(cur);
  return terms.every((raw) => {
    const t = raw.trim();
    let m = /^(\S+?)\s+(in|notin)\s+\((.*)\)$/.exec(t);
    if (m) {
      const values = m[3]!.split(',').map((v) => v.trim());
      const has = m[1]! in labels && values.includes(labels[m[1]!]!);
      return m[2] === 'in' ? has : !has;
    }
    m = /^([^!=\s]+)\s*(==|=|!=)\s*(.*)$/.exec(t);
    if (m) {
      const v = labels[m[1]!];
      return m[2] === '!=' ? v !== m[3]!.trim() : v === m[3]!.trim();
    }
    if (t.startsWith('!')) return !(t.slice(1).trim() in labels);
    return t in labels;
  });
}

function reply(code: number, body: unknown): k8s.ResponseContext {
  const text = JSON.stringify(body);
  return new k8s.ResponseContext(
    code,
    { 'content-type': 'application/json' },
    new k8s.SelfDecodingBody(Promise.resolve(Buffer.from(text))),
  );
}

function status(code: number, reason: string, message: string): k8s.ResponseContext {
  return reply(code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message });
}

/** The objects of a test file (or a case), answering GETs and LISTs as the API server would. */
export class ObjectSet {
  /** The objects as given; writes replace entries of `byKey` (never an object in place), so a reset is a copy. */
  private readonly initial = new Map<string, KubeObject>();
  private byKey = new Map<string, KubeObject>();
  private cachedClients?: KubeClients;
  private readonly kinds = new Map<string, Set<string>>();

  private version = 1;

  constructor(
    objects: readonly KubeObject[],
    private readonly opts: { writable?: boolean; defaultNamespace?: string } = {},
  ) {
    const defaultNamespace = opts.defaultNamespace ?? 'default';
    for (const gv of Object.keys(BUILTIN_GROUP_VERSIONS))
      this.kinds.set(gv, new Set(BUILTIN_GROUP_VERSIONS[gv]));
    for (const o of objects) {
      const obj = structuredClone(o);
      const kind = obj.kind ?? '';
      const gv = obj.apiVersion ?? '';
      const namespaced = pluralOf(kind).namespaced;
      obj.metadata = { ...obj.metadata };
      if (namespaced) obj.metadata.namespace ??= defaultNamespace;
      // What plan() may compare (preconditions, owner uids) needs the fields a server sets.
      obj.metadata.uid ??= `uid-${kind}-${obj.metadata.namespace ?? ''}-${obj.metadata.name ?? ''}`;
      obj.metadata.resourceVersion ??= '1';
      if (kind !== 'Pod' && kind !== 'ConfigMap' && kind !== 'Secret') obj.metadata.generation ??= 1;
      if (!this.kinds.has(gv)) this.kinds.set(gv, new Set());
      this.kinds.get(gv)!.add(kind);
      this.initial.set(
        this.key(gv, pluralOf(kind).plural, obj.metadata.namespace, obj.metadata.name ?? ''),
        obj,
      );
    }
    this.reset();
  }

  /** Back to the objects as given (a new run: its writes start from them). */
  reset(): void {
    this.byKey = new Map(this.initial);
    this.version = 1;
  }

  private key(gv: string, plural: string, namespace: string | undefined, name: string): string {
    return `${gv}|${plural}|${namespace ?? ''}|${name}`;
  }

  /** Answers one request (the HttpLibrary of the clients below). */
  answer(req: k8s.RequestContext): k8s.ResponseContext {
    const method = req.getHttpMethod();
    const url = new URL(req.getUrl());
    const writes = method === k8s.HttpMethod.PATCH || method === k8s.HttpMethod.DELETE;
    if (method !== k8s.HttpMethod.GET && !(writes && this.opts.writable)) {
      return status(
        405,
        'MethodNotAllowed',
        `the offline object set is read-only: ${method} ${url.pathname}`,
      );
    }
    const route = parsePath(url.pathname);
    if (!route)
      return status(404, 'NotFound', `the server could not find the requested resource (${url.pathname})`);
    if ('discovery' in route) return this.discovery(route.discovery);
    const kind = this.kindOf(route.groupVersion, route.plural);
    if (route.name === undefined) return this.list(route, url.searchParams.get('labelSelector') ?? undefined);
    const key = this.key(route.groupVersion, route.plural, route.namespace, route.name);
    const obj = this.byKey.get(key);
    const what = `${route.plural}${route.groupVersion.includes('/') ? `.${route.groupVersion.split('/')[0]}` : ''} "${route.name}"`;
    if (!obj) return status(404, 'NotFound', `${what} not found`);
    const scale = route.subresource === 'scale' && kind !== undefined && SCALABLE.has(kind);
    if (route.subresource && !scale)
      return status(404, 'NotFound', `${what}: no ${route.subresource} offline`);
    if (method === k8s.HttpMethod.DELETE) {
      this.byKey.delete(key);
      return reply(200, { kind: 'Status', apiVersion: 'v1', status: 'Success' });
    }
    if (method === k8s.HttpMethod.PATCH) return this.patch(key, obj, req, scale);
    return reply(200, scale ? scaleOf(obj) : obj);
  }

  private patch(key: string, obj: KubeObject, req: k8s.RequestContext, scale: boolean): k8s.ResponseContext {
    const type = req.getHeaders()['Content-Type'] ?? '';
    let body: unknown;
    try {
      const raw = req.getBody();
      body = JSON.parse(typeof raw === 'string' ? raw : '');
    } catch (err) {
      return status(400, 'BadRequest', `patch body: ${errorMessage(err)}`);
    }
    const preimage = scale ? scaleOf(obj) : obj;
    let patched: KubeObject;
    try {
      if (type.includes('json-patch'))
        patched = applyJsonPatch(preimage as KubeObject, body as JsonPatchOp[]);
      else if (type.includes('strategic')) patched = strategicMerge(preimage, body) as KubeObject;
      else patched = applyMergePatch(preimage, body) as KubeObject;
    } catch (err) {
      // A failed `test` op or a path that does not exist: the API server answers 422.
      return status(422, 'Invalid', errorMessage(err));
    }
    const rv = patched.metadata?.resourceVersion;
    if (rv !== undefined && rv !== obj.metadata?.resourceVersion)
      return status(
        409,
        'Conflict',
        'the object has been modified; please apply your changes to the latest version',
      );
    let next: KubeObject = patched;
    if (scale) {
      const replicas = (patched.spec as { replicas?: number } | undefined)?.replicas;
      next = { ...obj, spec: { ...(obj.spec as object), replicas } };
    }
    const specChanged = JSON.stringify(next.spec) !== JSON.stringify(obj.spec);
    next.metadata = {
      ...next.metadata,
      resourceVersion: String(++this.version),
      ...(obj.metadata?.generation !== undefined
        ? { generation: obj.metadata.generation + (specChanged ? 1 : 0) }
        : {}),
    };
    this.byKey.set(key, next);
    return reply(200, scale ? scaleOf(next) : next);
  }

  private kindOf(gv: string, plural: string): string | undefined {
    return [...(this.kinds.get(gv) ?? [])].find((k) => pluralOf(k).plural === plural);
  }

  private discovery(gv: string): k8s.ResponseContext {
    const kinds = this.kinds.get(gv);
    if (!kinds) return status(404, 'NotFound', `the server could not find the requested resource (${gv})`);
    const resources = [...kinds].flatMap((kind) => {
      const { plural, namespaced } = pluralOf(kind);
      const main = {
        name: plural,
        singularName: kind.toLowerCase(),
        namespaced,
        kind,
        verbs: ['get', 'list'],
      };
      return SCALABLE.has(kind)
        ? [main, { name: `${plural}/scale`, singularName: '', namespaced, kind: 'Scale', verbs: ['get'] }]
        : [main];
    });
    return reply(200, { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: gv, resources });
  }

  private list(route: Route, selector: string | undefined): k8s.ResponseContext {
    const items = [...this.byKey.entries()]
      .filter(([k]) => {
        const [gv, plural, ns] = k.split('|');
        return (
          gv === route.groupVersion &&
          plural === route.plural &&
          (route.namespace === undefined || ns === route.namespace)
        );
      })
      .map(([, o]) => o)
      .filter((o) => selectorMatches(selector, o.metadata?.labels ?? {}));
    return reply(200, { kind: 'List', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items });
  }

  /** Clients whose every request is answered by this set (one set of them: discovery is cached once). */
  clients(): KubeClients {
    this.cachedClients ??= makeClients(new OfflineKubeConfig(this));
    return this.cachedClients;
  }
}

/**
 * Strategic merge patch, as far as the actions need it: a merge patch in which lists of objects
 * that all have a `name` (containers, env, volumes) merge item by item on the name, and the
 * `$patch`/`$setElementOrder` directives are dropped (a `$patch: replace` object replaces).
 */
export function strategicMerge(target: unknown, patch: unknown): unknown {
  if (Array.isArray(patch)) {
    const named = (xs: unknown[]): boolean =>
      xs.every(
        (x) => x !== null && typeof x === 'object' && typeof (x as { name?: unknown }).name === 'string',
      );
    if (!Array.isArray(target) || !named(patch) || !named(target)) return structuredClone(patch);
    const out = target.map((x) => structuredClone(x) as { name: string });
    for (const p of patch as { name: string }[]) {
      const i = out.findIndex((x) => x.name === p.name);
      if (i >= 0) out[i] = strategicMerge(out[i], p) as { name: string };
      else out.push(strategicMerge(undefined, p) as { name: string });
    }
    return out;
  }
  if (patch === null || typeof patch !== 'object') return structuredClone(patch);
  const p = patch as Record<string, unknown>;
  const replace = p.$patch === 'replace';
  const out: Record<string, unknown> =
    !replace && target !== null && typeof target === 'object' && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(p)) {
    if (k.startsWith('$')) continue;
    if (v === null) delete out[k];
    else out[k] = strategicMerge(out[k], v);
  }
  return out;
}

function scaleOf(obj: KubeObject): unknown {
  const spec = obj.spec as { replicas?: number } | undefined;
  const st = obj.status as { replicas?: number } | undefined;
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      name: obj.metadata?.name,
      namespace: obj.metadata?.namespace,
      resourceVersion: obj.metadata?.resourceVersion,
    },
    spec: { replicas: spec?.replicas ?? 1 },
    status: { replicas: st?.replicas ?? 0 },
  };
}

/** A kubeconfig whose API clients send their requests to an ObjectSet instead of the network. */
class OfflineKubeConfig extends k8s.KubeConfig {
  private readonly http: k8s.HttpLibrary;

  constructor(set: ObjectSet) {
    super();
    this.loadFromOptions({
      clusters: [{ name: 'offline', server: 'http://offline.invalid', skipTLSVerify: true }],
      users: [{ name: 'offline' }],
      contexts: [{ name: 'offline', cluster: 'offline', user: 'offline', namespace: 'default' }],
      currentContext: 'offline',
    });
    this.http = k8s.wrapHttpLibrary({ send: (req) => Promise.resolve(set.answer(req)) });
  }

  override makeApiClient<T extends k8s.ApiType>(apiClientType: k8s.ApiConstructor<T>): T {
    const config = k8s.createConfiguration({
      baseServer: new k8s.ServerConfiguration('http://offline.invalid', {}),
      httpApi: this.http,
    });
    return new apiClientType(config);
  }
}
