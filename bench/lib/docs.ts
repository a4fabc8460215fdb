/** Writes a benchmark's figures into docs/benchmarks.md, replacing one "Latest run" section. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const INTRO = `# Benchmarks

Figures printed by the benchmark scripts (\`npm run bench:controller\`, \`npm run bench:intake\`).
Each script overwrites its own "Latest run" section below. They run on the test control plane
(etcd + kube-apiserver + kube-controller-manager v1.20 on loopback, fake kubelet), so absolute
numbers depend heavily on the machine and on whatever else runs on it.
`;

/**
 * Replaces the section that starts with `heading` (a full "## ..." line) up to the next "## "
 * heading, or appends it when absent. Other sections (e.g. other benchmarks) stay as they are.
 */
export function writeSection(file: string, heading: string, body: string): void {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : INTRO;
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === heading);
  const section = [heading, '', ...body.trimEnd().split('\n'), ''];
  let out: string[];
  if (start < 0) {
    out = [...lines.slice(0, lines.length - (lines[lines.length - 1] === '' ? 1 : 0)), '', ...section];
  } else {
    let end = lines.findIndex((l, i) => i > start && l.startsWith('## '));
    if (end < 0) end = lines.length;
    out = [...lines.slice(0, start), ...section, ...lines.slice(end)];
  }
  writeFileSync(
    file,
    `${out
      .join('\n')
      .replace(/\n{3,}/g, '\n\n')
      .trimEnd()}\n`,
  );
}
