/** Installs crds/ on a cluster and waits until both CRDs are Established. */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import yaml from 'js-yaml';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CRD_DIR = join(REPO_ROOT, 'crds');

export async function installCrds(kubeconfigPath: string): Promise<void> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const api = kc.makeApiClient(k8s.ApiextensionsV1Api);
  const names: string[] = [];
  for (const file of readdirSync(CRD_DIR).filter((f) => f.endsWith('.yaml'))) {
    const body = yaml.load(readFileSync(join(CRD_DIR, file), 'utf8')) as k8s.V1CustomResourceDefinition;
    names.push(body.metadata!.name!);
    try {
      await api.createCustomResourceDefinition({ body });
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err;
      const cur = await api.readCustomResourceDefinition({ name: body.metadata!.name! });
      body.metadata!.resourceVersion = cur.metadata!.resourceVersion;
      await api.replaceCustomResourceDefinition({ name: body.metadata!.name!, body });
    }
  }
  const deadline = Date.now() + 60_000;
  for (const name of names) {
    for (;;) {
      const crd = await api.readCustomResourceDefinition({ name });
      if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established after 60s`);
      await sleep(100);
    }
  }
}
