/** Every way the operator is started runs the same bundle with the same V8 flags (src/cli/node-flags.ts). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OPERATOR_BUNDLE, OPERATOR_NODE_FLAGS } from '../../../src/cli/node-flags.js';
import { REPO_ROOT } from '../../../tools/cluster/crds.js';

const read = (p: string): string => readFileSync(join(REPO_ROOT, p), 'utf8');

describe('operator node flags', () => {
  it('the image entrypoint runs node with them', () => {
    const entry = /^ENTRYPOINT (.*)$/m.exec(read('Dockerfile'))?.[1];
    expect(JSON.parse(entry ?? '[]')).toEqual(['node', ...OPERATOR_NODE_FLAGS, OPERATOR_BUNDLE]);
  });

  it('npm start runs node with them (its dev entry point spawns the operator)', () => {
    expect(read('scripts/start.sh')).toContain('exec node --import tsx tools/sandbox/start.ts');
    expect(read('tools/sandbox/operator-child.ts')).toContain(
      "[...OPERATOR_NODE_FLAGS, join(root, OPERATOR_BUNDLE), 'run', ...args]",
    );
  });

  it("the chart's default command runs node with them", () => {
    const line = /^command: (.*)$/m.exec(read('charts/kube-remediator/values.yaml'))?.[1] ?? '';
    expect(JSON.parse(line.replace(/'/g, '"'))).toEqual([
      'node',
      ...OPERATOR_NODE_FLAGS,
      OPERATOR_BUNDLE,
      'run',
    ]);
  });

  it('the package bin is the bundle', () => {
    const pkg = JSON.parse(read('package.json')) as { bin: Record<string, string> };
    expect(pkg.bin['kube-remediator']).toBe(OPERATOR_BUNDLE);
  });
});
