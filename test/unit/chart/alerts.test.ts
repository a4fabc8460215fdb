/**
 * The chart's PrometheusRule (templates/prometheusrule.yaml): rendered, checked and unit-tested
 * with the real `promtool` (Debian's prometheus package; `npm test` installs it), and every
 * series its expressions read is one the operator exports. A real Prometheus evaluates the same
 * rules against a running operator in test/e2e/operator/operator.test.ts.
 */
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execa } from 'execa';
import yaml from 'js-yaml';
import { createMetrics } from '../../../src/observability/metrics.js';
import { REPO_ROOT } from '../../../tools/cluster/crds.js';
import { renderedPrometheusRule as renderedRule, type PrometheusRule } from '../../support/helm.js';

const CASES = join(REPO_ROOT, 'test', 'fixtures', 'alerts', 'kube-remediator.rules.test.yaml');

async function promtool(args: string[], cwd: string) {
  const res = await execa('promtool', args, { cwd, reject: false, all: true });
  if (res.failed && (res as { code?: string }).code === 'ENOENT')
    throw new Error('promtool not found: install Debian\'s "prometheus" package (npm test does)');
  return res;
}

describe('the PrometheusRule of the chart', () => {
  let dir: string;
  let rule: PrometheusRule;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kr-rules-'));
    rule = (await renderedRule(['--set', 'prometheusRule.enabled=true']))!;
    await writeFile(join(dir, 'rules.yaml'), yaml.dump({ groups: rule.spec.groups }, { lineWidth: -1 }));
    await copyFile(CASES, join(dir, 'cases.yaml'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is off by default', async () => {
    expect(await renderedRule()).toBeUndefined();
  });

  it('passes promtool check rules', async () => {
    const res = await promtool(['check', 'rules', 'rules.yaml'], dir);
    expect(res.all).toContain('SUCCESS: 9 rules found');
    expect(res.exitCode).toBe(0);
  });

  it('fires and clears as the cases in test/fixtures/alerts expect (promtool test rules)', async () => {
    const res = await promtool(['test', 'rules', 'cases.yaml'], dir);
    if (res.exitCode !== 0) throw new Error(`promtool test rules failed:\n${res.all}`);
    const cases = yaml.load(await readFile(CASES, 'utf8')) as {
      tests: { alert_rule_test: { alertname: string }[] }[];
    };
    const tested = new Set(cases.tests.flatMap((t) => t.alert_rule_test.map((a) => a.alertname)));
    // Every alert has a case.
    expect([...tested].sort()).toEqual(rule.spec.groups.flatMap((g) => g.rules.map((r) => r.alert)).sort());
  });

  it('reads only series the operator exports', async () => {
    const exported = new Set(
      (await createMetrics().registry.getMetricsAsJSON()).flatMap((m) =>
        String(m.type) === 'histogram' ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name],
      ),
    );
    exported.add('up'); // Prometheus' own, per scrape target
    const read = rule.spec.groups
      .flatMap((g) => g.rules)
      .flatMap((r) => [...r.expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{/g)].map((m) => m[1]!));
    expect(read.length).toBeGreaterThan(0);
    expect(read.filter((n) => !exported.has(n))).toEqual([]);
  });

  it('every alert has a severity, a summary, a description and a runbook_url with its anchor', () => {
    for (const r of rule.spec.groups.flatMap((g) => g.rules)) {
      expect(r.labels.severity).toMatch(/^(info|warning|critical)$/);
      expect(r.annotations.summary).toBeTruthy();
      expect(r.annotations.description).toBeTruthy();
      expect(r.annotations.runbook_url).toMatch(new RegExp(`docs/alerts\\.md#${r.alert.toLowerCase()}$`));
    }
  });

  it('takes labels, a selector and extra alert labels from the values', async () => {
    const custom = (await renderedRule([
      '--set',
      'prometheusRule.enabled=true',
      '--set',
      'prometheusRule.labels.release=prom',
      '--set',
      'prometheusRule.selector=namespace="ops"\\,job="x"',
      '--set',
      'prometheusRule.additionalLabels.team=sre',
      '--set',
      'prometheusRule.additionalLabels.severity=page',
      '--set',
      'prometheusRule.runbookBaseUrl=https://wiki.example/kr #runbooks',
    ]))!;
    expect(custom.metadata.labels.release).toBe('prom');
    const rules = custom.spec.groups.flatMap((g) => g.rules);
    expect(rules[0]!.expr).toBe('absent(up{namespace="ops",job="x"} == 1)');
    for (const r of rules) {
      expect(r.labels.team).toBe('sre');
      // An alert's own severity stays (one key, not two), and a URL with ' #' stays one string.
      expect(r.labels.severity).toMatch(/^(info|warning)$/);
      expect(r.annotations.runbook_url).toBe(`https://wiki.example/kr #runbooks#${r.alert.toLowerCase()}`);
      expect(r.expr).not.toContain('kr-kube-remediator');
    }
  });
});
