/**
 * Where the kubeconfig comes from (the same search `npm start` uses to decide on a sandbox),
 * and the KR_ERR_KUBECONFIG errors that name the file and what to do.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { loadKubeTarget, locateKubeconfig } from '../../../src/kube/kubeconfig.js';
import { StartupError } from '../../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'kr-kubeconfig-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function kubeconfig(name: string, opts: { context?: string; server?: string; ca?: string } = {}): string {
  const file = join(dir, name);
  const ctx = opts.context ?? 'dev';
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: c-${name}`,
      '  cluster:',
      `    server: ${opts.server ?? 'https://10.0.0.1:6443'}`,
      ...(opts.ca ? [`    certificate-authority: ${opts.ca}`] : []),
      'users:',
      `- name: u-${name}`,
      '  user: {token: t}',
      'contexts:',
      `- name: ${ctx}`,
      `  context: {cluster: c-${name}, user: u-${name}}`,
      `current-context: ${ctx}`,
      '',
    ].join('\n'),
  );
  return file;
}

const nothing = { home: join(dir, 'home-without-kube'), exists: () => false };

function startupError(fn: () => unknown): StartupError {
  try {
    fn();
  } catch (err) {
    if (err instanceof StartupError) return err;
    throw err;
  }
  throw new Error('expected a StartupError');
}

describe('locateKubeconfig', () => {
  it('takes the setting first, as a list of files ($KUBECONFIG style)', () => {
    expect(locateKubeconfig(`a${delimiter}${delimiter}b`, nothing)).toEqual({
      kind: 'files',
      files: ['a', 'b'],
      from: 'setting',
    });
  });

  it('then ~/.kube/config, then the service account of a pod', () => {
    const home = { home: '/h', exists: (p: string) => p === '/h/.kube/config' };
    expect(locateKubeconfig('', home)).toEqual({ kind: 'files', files: ['/h/.kube/config'], from: 'home' });
    const pod = { home: '/h', exists: (p: string) => p.endsWith('/serviceaccount/token') };
    expect(locateKubeconfig('', pod)).toEqual({ kind: 'in-cluster' });
  });

  it('finds nothing on a fresh machine, and says where it looked', () => {
    const where = locateKubeconfig('', nothing);
    expect(where.kind).toBe('none');
    expect(where.kind === 'none' && where.looked.join('\n')).toContain(join(nothing.home, '.kube', 'config'));
  });
});

describe('loadKubeTarget', () => {
  it('describes the file, the context, the server and the user', () => {
    const file = kubeconfig('plain');
    expect(loadKubeTarget(file, nothing).target).toEqual({
      source: file,
      context: 'dev',
      server: 'https://10.0.0.1:6443',
      user: 'u-plain',
    });
  });

  it('merges a list as kubectl does: the first current-context wins, certificate paths are relative to their file', () => {
    const sub = join(dir, 'sub');
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, 'ca.crt'), 'not a real CA');
    const a = kubeconfig('first', { context: 'first' });
    const b = kubeconfig('sub/second', { context: 'second', ca: 'ca.crt' });
    const { kc, target } = loadKubeTarget(`${a}${delimiter}${b}`, nothing);
    expect(target.context).toBe('first');
    expect(target.source).toBe(`${a}${delimiter}${b}`);
    expect(kc.getCluster('c-sub/second')?.caFile).toBe(join(sub, 'ca.crt'));
  });

  it('no kubeconfig: KR_ERR_KUBECONFIG with where it looked and the sandbox as a way out', () => {
    const err = startupError(() => loadKubeTarget('', nothing));
    expect(err.code).toBe('KR_ERR_KUBECONFIG');
    expect(err.details.facts?.map(([k]) => k)).toEqual(['looked at', 'looked at', 'looked at']);
    expect(err.details.fix).toContain('KUBECONFIG');
    expect(err.details.fix).toContain('npm start');
  });

  it('a file that does not exist, or is not a kubeconfig, is named', () => {
    const missing = startupError(() => loadKubeTarget(join(dir, 'nope'), nothing));
    expect(missing.details.facts).toEqual([['kubeconfig', join(dir, 'nope')]]);
    expect(missing.details.cause).toBe('the file does not exist');
    const bad = join(dir, 'bad');
    writeFileSync(bad, 'clusters: [this is: not, yaml');
    const invalid = startupError(() => loadKubeTarget(bad, nothing));
    expect(invalid.message).toBe(`the kubeconfig ${bad} is not valid`);
    expect(invalid.details.fix).toContain('kubectl config view');
  });

  it('a current context that does not exist: names the ones there are', () => {
    const file = kubeconfig('wrong-context');
    writeFileSync(file, readFileSync(file, 'utf8').replace('current-context: dev', 'current-context: prod'));
    const err = startupError(() => loadKubeTarget(file, nothing));
    expect(err.message).toBe('the kubeconfig\'s current context "prod" does not exist');
    expect(err.details.facts).toContainEqual(['contexts', 'dev']);
    expect(err.details.fix).toBe('choose one: `kubectl config use-context dev`');
  });
});
