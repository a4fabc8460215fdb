/** Every way the operator is started runs it with the same V8 flags (src/cli/node-flags.ts). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OPERATOR_NODE_FLAGS } from '../../../src/cli/node-flags.js';
import { REPO_ROOT } from '../../cluster/crds.js';

const read = (p: string): string => readFileSync(join(REPO_ROOT, p), 'utf8');

describe('operator node flags', () => {
  const flags = OPERATOR_NODE_FLAGS.join(' ');

  it('the image entrypoint runs node with them', () => {
    const entry = /^ENTRYPOINT (.*)$/m.exec(read('Dockerfile'))?.[1];
    expect(JSON.parse(entry ?? '[]')).toEqual(['node', ...OPERATOR_NODE_FLAGS, 'dist/src/cli/index.js']);
  });

  it('npm start runs node with them', () => {
    expect(read('scripts/start.sh')).toContain(`exec node ${flags} dist/src/cli/index.js run`);
  });

  it("the chart's default command runs node with them", () => {
    const line = /^command: (.*)$/m.exec(read('charts/kube-remediator/values.yaml'))?.[1] ?? '';
    expect(JSON.parse(line.replace(/'/g, '"'))).toEqual([
      'node',
      ...OPERATOR_NODE_FLAGS,
      'dist/src/cli/index.js',
      'run',
    ]);
  });
});
