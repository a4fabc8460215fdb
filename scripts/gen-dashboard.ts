/**
 * Writes the chart's Grafana dashboard (charts/kube-remediator/dashboards/kube-remediator.json)
 * from scripts/dashboard.ts. `--check` only compares, and exits 1 when the file is stale.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDashboard } from './dashboard.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const DASHBOARD_FILE = join(root, 'charts', 'kube-remediator', 'dashboards', 'kube-remediator.json');

/** The file's text: Grafana's JSON model, two-space indented, ending in a newline. */
export function renderDashboard(): string {
  return `${JSON.stringify(buildDashboard(), null, 2)}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();

function main(): void {
  const text = renderDashboard();
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(DASHBOARD_FILE, 'utf8');
    } catch {
      /* missing counts as stale */
    }
    if (current !== text) {
      console.error(`stale: ${DASHBOARD_FILE} (run npm run gen:dashboard)`);
      process.exit(1);
    }
    return;
  }
  mkdirSync(dirname(DASHBOARD_FILE), { recursive: true });
  writeFileSync(DASHBOARD_FILE, text);
  console.log(`wrote ${DASHBOARD_FILE}`);
}
