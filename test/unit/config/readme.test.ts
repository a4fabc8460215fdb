/** README.md's configuration and exit-code tables are generated from the code; keep them true. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { readmeWithTable } from '../../../scripts/gen-config-docs.js';
import { REPO_ROOT } from '../../../tools/cluster/crds.js';

describe('README', () => {
  it('lists every configuration option and exit code (npx tsx scripts/gen-config-docs.ts --write)', () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    expect(readme).toBe(readmeWithTable(readme));
  });
});
