/**
 * Where the operator's kubeconfig comes from and what it points at. The search order is
 * client-go's and client-node's (the `kubeconfig` setting, which $KUBECONFIG and --kubeconfig
 * set; then ~/.kube/config; then the pod's service account), with one difference: when nothing
 * is found the operator stops with an error that says so, instead of client-node's silent
 * fallback to http://localhost:8080. `npm start` uses the same search to decide whether to
 * start a sandbox cluster (tools/sandbox/), so the two can never disagree.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { ERROR_CODES, errorMessage, StartupError, systemErrorWords } from '../util/errors.js';

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export type KubeconfigLocation =
  /** `setting`: --kubeconfig, $KUBECONFIG or the config file; `home`: ~/.kube/config. */
  | { kind: 'files'; files: string[]; from: 'setting' | 'home' }
  | { kind: 'in-cluster' }
  | { kind: 'none'; looked: string[] };

/** What a start-up failure names: where the kubeconfig came from and what it points at. */
export interface KubeTarget {
  /** The kubeconfig files, or `(in-cluster service account)`. */
  readonly source: string;
  readonly context: string;
  readonly server: string;
  readonly user: string;
}

export interface LocateIo {
  home?: string;
  exists(path: string): boolean;
}

const defaultIo: LocateIo = { home: safeHome(), exists: existsSync };

function safeHome(): string | undefined {
  try {
    return homedir() || undefined;
  } catch {
    return undefined;
  }
}

/** Finds the kubeconfig without reading it. `setting` may list several files ($KUBECONFIG style). */
export function locateKubeconfig(setting: string, io: LocateIo = defaultIo): KubeconfigLocation {
  const files = setting.split(delimiter).filter(Boolean);
  if (files.length > 0) return { kind: 'files', files, from: 'setting' };
  const home = io.home ? join(io.home, '.kube', 'config') : undefined;
  if (home && io.exists(home)) return { kind: 'files', files: [home], from: 'home' };
  if (io.exists(SERVICE_ACCOUNT_TOKEN)) return { kind: 'in-cluster' };
  return {
    kind: 'none',
    looked: [
      '--kubeconfig / $KUBECONFIG (not set)',
      `${home ?? '~/.kube/config'} (no such file)`,
      `${SERVICE_ACCOUNT_TOKEN} (not in a pod)`,
    ],
  };
}

/**
 * Loads the kubeconfig the operator runs with, or throws KR_ERR_KUBECONFIG naming the file and
 * what is wrong with it. `setting` is the `kubeconfig` option (empty: search).
 */
export function loadKubeTarget(
  setting: string,
  io: LocateIo = defaultIo,
): { kc: k8s.KubeConfig; target: KubeTarget } {
  const where = locateKubeconfig(setting, io);
  const kc = new k8s.KubeConfig();
  if (where.kind === 'none') {
    throw new StartupError(ERROR_CODES.kubeconfig, 'no kubeconfig found', {
      facts: where.looked.map((l) => ['looked at', l]),
      fix:
        'point KUBECONFIG (or --kubeconfig) at the kubeconfig of your cluster, e.g. `export KUBECONFIG=~/.kube/config`; ' +
        'to try kube-remediator without a cluster, run `npm start` in its repository: it starts a sandbox cluster',
    });
  }
  if (where.kind === 'in-cluster') kc.loadFromCluster();
  else where.files.forEach((file, i) => loadFile(kc, file, i === 0));
  const source = where.kind === 'in-cluster' ? '(in-cluster service account)' : where.files.join(delimiter);
  return { kc, target: describeTarget(kc, source) };
}

function loadFile(kc: k8s.KubeConfig, file: string, first: boolean): void {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new StartupError(
      ERROR_CODES.kubeconfig,
      `cannot read the kubeconfig ${file}`,
      {
        facts: [['kubeconfig', file]],
        cause: systemErrorWords(code) ?? errorMessage(err),
        fix:
          code === 'ENOENT'
            ? 'point KUBECONFIG (or --kubeconfig) at an existing file, or unset it to use ~/.kube/config; `kubectl config view` shows what kubectl uses'
            : 'make the file readable by the user the operator runs as, or point KUBECONFIG elsewhere',
      },
      { cause: err },
    );
  }
  try {
    const into = first ? kc : new k8s.KubeConfig();
    into.loadFromString(text);
    // Relative certificate paths are relative to the file, as kubectl reads them.
    into.makePathsAbsolute(dirname(file));
    // As kubectl: the first file that names a current context wins.
    if (!first) kc.mergeConfig(into, Boolean(kc.getCurrentContext()));
  } catch (err) {
    throw new StartupError(
      ERROR_CODES.kubeconfig,
      `the kubeconfig ${file} is not valid`,
      {
        facts: [['kubeconfig', file]],
        cause: errorMessage(err),
        fix: 'fix the file (`kubectl config view` reports the same problem), or point KUBECONFIG at another one',
      },
      { cause: err },
    );
  }
}

/** The current context, its cluster's server and its user; KR_ERR_KUBECONFIG when one is missing. */
function describeTarget(kc: k8s.KubeConfig, source: string): KubeTarget {
  const context = kc.getCurrentContext();
  const ctx = context ? kc.getContextObject(context) : null;
  const contexts = kc.getContexts().map((c) => c.name);
  if (!ctx) {
    throw new StartupError(
      ERROR_CODES.kubeconfig,
      context
        ? `the kubeconfig's current context "${context}" does not exist`
        : 'the kubeconfig has no current context',
      {
        facts: [
          ['kubeconfig', source],
          ['contexts', contexts.join(', ') || '(none)'],
        ],
        fix: contexts.length
          ? `choose one: \`kubectl config use-context ${contexts[0]}\``
          : "the file defines no context: add one with `kubectl config set-context`, or use your cluster provider's kubeconfig",
      },
    );
  }
  const cluster = kc.getCluster(ctx.cluster);
  if (!cluster?.server) {
    throw new StartupError(ERROR_CODES.kubeconfig, `context "${context}" has no cluster with a server URL`, {
      facts: [
        ['kubeconfig', source],
        ['context', context],
        ['cluster', ctx.cluster],
      ],
      fix: `add the cluster: \`kubectl config set-cluster ${ctx.cluster} --server=https://HOST:PORT\``,
    });
  }
  return { source, context, server: cluster.server, user: ctx.user };
}

/** The facts every API start-up failure names. */
export function targetFacts(t: KubeTarget): [string, string][] {
  return [
    ['kubeconfig', t.source],
    ['context', t.context],
    ['server', t.server],
    ['user', t.user],
  ];
}
