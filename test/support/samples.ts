/**
 * The shipped samples (config/samples) as a person applies them: every object in every file,
 * and the namespaces of the seeds' systems that their RBAC files name (a person creates those
 * with the system; the samples do not ship them).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { REPO_ROOT } from '../../tools/cluster/crds.js';
import { kubectl } from './kube.js';

export const SAMPLES_DIR = join(REPO_ROOT, 'config', 'samples');

export function sampleFiles(): string[] {
  return readdirSync(SAMPLES_DIR).filter((f) => f.endsWith('.yaml'));
}

/** Every object of every sample file. */
export function sampleObjects(): { kind: string; metadata: { name: string; namespace?: string } }[] {
  return sampleFiles().flatMap((f) =>
    yaml
      .loadAll(readFileSync(join(SAMPLES_DIR, f), 'utf8'))
      .filter((d): d is { kind: string; metadata: { name: string; namespace?: string } } => !!d),
  );
}

/** Creates the namespaces the samples put objects in (all but default), where missing. */
export async function createSampleNamespaces(): Promise<void> {
  const names = new Set(sampleObjects().map((o) => o.metadata.namespace ?? 'default'));
  names.delete('default');
  for (const ns of names) {
    const res = await kubectl(['create', 'namespace', ns]);
    if (res.exitCode !== 0 && !res.stderr.includes('AlreadyExists'))
      throw new Error(`kubectl create namespace ${ns}: ${res.stderr}`);
  }
}
