/**
 * A clean copy of the checkout, as a newcomer's fresh clone: the files git knows (committed or
 * not yet), no dist/, no caches. node_modules is a link to the repository's own, because a real
 * `npm ci` per test run would download the registry again; the quiet install is checked on the
 * lockfile (test/unit/project/install.test.ts), and start.sh's "install if needed" sees an
 * up-to-date tree.
 */
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  statSync,
  utimesSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from '../../tools/cluster/crds.js';

export function cleanCopy(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'kr-clean-copy-'));
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  })
    .split('\0')
    .filter((f) => f && existsSync(join(REPO_ROOT, f)) && statSync(join(REPO_ROOT, f)).isFile());
  for (const f of files) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    cpSync(join(REPO_ROOT, f), join(dir, f), { preserveTimestamps: true });
  }
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
  // Older than the installed tree, so start.sh does not run `npm ci` through the link.
  const installed = statSync(join(REPO_ROOT, 'node_modules', '.package-lock.json')).mtime;
  const before = new Date(installed.getTime() - 60_000);
  utimesSync(join(dir, 'package-lock.json'), before, before);
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
