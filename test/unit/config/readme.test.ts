/** README.md's configuration table is generated from the config schema; keep it true. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { readmeWithTable } from '../../../scripts/gen-config-docs.js';
import { REPO_ROOT } from '../../../tools/cluster/crds.js';

describe('README', () => {
  it('lists every configuration option (npx tsx scripts/gen-config-docs.ts --write)', () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    expect(readme).toBe(readmeWithTable(readme));
  });
});
