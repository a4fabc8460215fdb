/**
 * A clean `npm ci` prints no notice a newcomer must interpret: npm (11+) runs a dependency's
 * install script only when package.json's `allowScripts` approves it, and lists the ones it
 * skipped otherwise. Every package of the lockfile with an install script has a decision there
 * (README, "The two commands", says which and why).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { REPO_ROOT } from '../../../tools/cluster/crds.js';

const json = (file: string): unknown => JSON.parse(readFileSync(join(REPO_ROOT, file), 'utf8'));

describe('npm install', () => {
  it('every install script in the lockfile is approved or denied in allowScripts', () => {
    const lock = json('package-lock.json') as { packages: Record<string, { hasInstallScript?: boolean }> };
    const withScripts = Object.entries(lock.packages)
      .filter(([, p]) => p.hasInstallScript)
      .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
    const decided = Object.keys(
      (json('package.json') as { allowScripts?: Record<string, boolean> }).allowScripts ?? {},
    );
    expect(withScripts.filter((name) => !decided.includes(name))).toEqual([]);
  });
});
