/**
 * The Grafana dashboard (scripts/dashboard.ts → charts/kube-remediator/dashboards/): the file
 * is what the generator makes, every query names metrics the operator exports and filters on
 * the cluster variable, the panels tile the grid, and the chart ships it as a ConfigMap for the
 * Grafana sidecar only when asked. The e2e test (test/e2e/operator/dashboard.test.ts) runs the
 * queries against a real Prometheus.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import yaml from 'js-yaml';
import { DASHBOARD_FILE, renderDashboard } from '../../../scripts/gen-dashboard.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { REPO_ROOT } from '../../../tools/cluster/crds.js';
import { helm } from '../../support/helm.js';

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: { expr: string; refId: string }[];
}

const CHART = join(REPO_ROOT, 'charts', 'kube-remediator');
const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: string; allValue?: string }[] };
};
const panels = dashboard.panels.filter((p) => p.type !== 'row');

describe('the Grafana dashboard', () => {
  it('is what npm run gen:dashboard makes from scripts/dashboard.ts', () => {
    expect(readFileSync(DASHBOARD_FILE, 'utf8')).toBe(renderDashboard());
  });

  it('has a Prometheus data source variable and a cluster variable that matches every cluster by default', () => {
    const vars = Object.fromEntries(dashboard.templating.list.map((v) => [v.name, v]));
    expect(vars.datasource).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(vars.cluster).toMatchObject({ type: 'query', allValue: '.*' });
    expect(vars.cluster!.query).toMatch(/^label_values\(kube_remediator_\w+, cluster\)$/);
  });

  it('queries only metrics the operator exports, through the data source variable, per cluster', async () => {
    const registry = createMetrics({ defaultMetrics: false }).registry;
    const exported = new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
    for (const p of panels) {
      expect(p.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.targets?.length).toBeGreaterThan(0);
      for (const t of p.targets!) {
        expect(t.expr).toContain('cluster=~"$cluster"');
        for (const [name] of t.expr.matchAll(/kube_remediator_\w+/g))
          expect([p.title, exported.has(name.replace(/_(bucket|count|sum)$/, ''))]).toEqual([p.title, true]);
      }
    }
  });

  it('numbers its panels and lays them out on the 24-column grid without overlaps', () => {
    expect(dashboard.panels.map((p) => p.id)).toEqual(dashboard.panels.map((_, i) => i + 1));
    const taken = new Set<string>();
    for (const p of dashboard.panels) {
      const { x, y, w, h } = p.gridPos;
      expect(x + w).toBeLessThanOrEqual(24);
      for (let i = x; i < x + w; i++)
        for (let j = y; j < y + h; j++) {
          expect(taken.has(`${i},${j}`)).toBe(false);
          taken.add(`${i},${j}`);
        }
    }
  });

  it('is in the chart as a ConfigMap labelled for the Grafana sidecar, only when enabled', async () => {
    const render = async (
      args: string[],
    ): Promise<{ kind: string; metadata: Record<string, unknown>; data?: Record<string, string> }[]> => {
      const res = await helm(['template', 'kr', CHART, '--namespace', 'ops', ...args]);
      expect(res.stderr).toBe('');
      return (yaml.loadAll(res.stdout) as never[]).filter(Boolean);
    };
    expect((await render([])).some((o) => o.kind === 'ConfigMap')).toBe(false);
    const objs = await render([
      '--set',
      'grafanaDashboard.enabled=true',
      '--set',
      'grafanaDashboard.namespace=monitoring',
      '--set',
      'grafanaDashboard.folder=SRE',
    ]);
    const cm = objs.find((o) => o.kind === 'ConfigMap')!;
    expect(cm.metadata).toMatchObject({
      name: 'kr-kube-remediator-dashboard',
      namespace: 'monitoring',
      labels: expect.objectContaining({ grafana_dashboard: '1' }),
      annotations: { grafana_folder: 'SRE' },
    });
    expect(JSON.parse(cm.data!['kube-remediator.json']!)).toEqual(dashboard);
    const lint = await helm(['lint', '--strict', CHART, '--set', 'grafanaDashboard.enabled=true']);
    expect(lint.exitCode).toBe(0);
  });

  it('the ServiceMonitor labels series with clusterName, as the cluster variable expects', async () => {
    const res = await helm([
      'template',
      'kr',
      CHART,
      '--namespace',
      'ops',
      '--set',
      'serviceMonitor.enabled=true',
      '--set',
      'clusterName=prod-eu',
      '--show-only',
      'templates/servicemonitor.yaml',
    ]);
    const sm = yaml.load(res.stdout) as { spec: { endpoints: { relabelings?: unknown[] }[] } };
    expect(sm.spec.endpoints[0]!.relabelings).toEqual([
      { action: 'replace', targetLabel: 'cluster', replacement: 'prod-eu' },
    ]);
    const without = await helm([
      'template',
      'kr',
      CHART,
      '--set',
      'serviceMonitor.enabled=true',
      '--show-only',
      'templates/servicemonitor.yaml',
    ]);
    expect((yaml.load(without.stdout) as typeof sm).spec.endpoints[0]!.relabelings).toBeUndefined();
  });
});
