/**
 * The Grafana dashboard of kube-remediator, as code (Grafana's foundation SDK). The chart ships
 * what `npm run gen:dashboard` renders from here (charts/kube-remediator/dashboards/); an e2e
 * test runs every panel's query against a real Prometheus scraping a running operator.
 *
 * Every query filters on `cluster=~"$cluster"`. The `cluster` label comes from the scrape
 * (the chart's ServiceMonitor adds it from `clusterName`) or from Prometheus's external labels;
 * without one, "All" (`.*`) matches series that have no such label too.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import {
  DashboardBuilder,
  DatasourceVariableBuilder,
  MappingType,
  QueryVariableBuilder,
  RowBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  VariableRefresh,
  VariableSort,
  type Dashboard,
  type ValueMapping,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as statetimeline from '@grafana/grafana-foundation-sdk/statetimeline';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';

export const DASHBOARD_UID = 'kube-remediator';
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };
/** The selector every query starts from. */
const SEL = 'cluster=~"$cluster"';

function query(expr: string, legend: string, refId = 'A'): DataqueryBuilder {
  return new DataqueryBuilder().expr(expr).legendFormat(legend).refId(refId).range();
}

/** Counts per interval of a counter, summed by `by`. */
function increase(metric: string, by: string, extra = ''): string {
  return `sum by (${by}) (increase(${metric}{${SEL}${extra}}[$__rate_interval]))`;
}

function events(title: string, description: string, targets: DataqueryBuilder[]): timeseries.PanelBuilder {
  const panel = new timeseries.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .unit('short')
    .min(0)
    .decimals(0)
    .drawStyle(common.GraphDrawStyle.Bars)
    .fillOpacity(80)
    .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal))
    .legend(
      new common.VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(common.LegendDisplayMode.List)
        .placement(common.LegendPlacement.Bottom),
    )
    .height(8)
    .span(12);
  for (const t of targets) panel.withTarget(t);
  return panel;
}

function latency(title: string, description: string, histogram: string): timeseries.PanelBuilder {
  const q = (quantile: number): string =>
    `histogram_quantile(${quantile}, sum by (le, runbook) (rate(${histogram}_bucket{${SEL}}[$__rate_interval])))`;
  return new timeseries.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .unit('s')
    .min(0)
    .spanNulls(true)
    .withTarget(query(q(0.5), '{{runbook}} p50', 'A'))
    .withTarget(query(q(0.95), '{{runbook}} p95', 'B'))
    .height(8)
    .span(12);
}

function total(
  title: string,
  description: string,
  expr: string,
  thresholds: [number, string][],
): stat.PanelBuilder {
  return new stat.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .withTarget(new DataqueryBuilder().expr(expr).legendFormat(title).refId('A').instant())
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .graphMode(common.BigValueGraphMode.None)
    .colorMode(common.BigValueColorMode.Background)
    .decimals(0)
    .noValue('0')
    .thresholds(
      new ThresholdsConfigBuilder()
        .mode(ThresholdsMode.Absolute)
        .steps(thresholds.map(([value, color], i) => ({ value: i === 0 ? null : value, color }))),
    )
    .height(4)
    .span(6);
}

const FALLBACK_MAPPING: ValueMapping[] = [
  {
    type: MappingType.ValueToText,
    options: {
      '0': { text: 'store', color: 'green', index: 0 },
      '1': { text: 'memory (fallback)', color: 'red', index: 1 },
    },
  },
];

function variables(d: DashboardBuilder): DashboardBuilder {
  return d
    .withVariable(new DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'))
    .withVariable(
      new QueryVariableBuilder('cluster')
        .label('Cluster')
        .description('The cluster label of the operator series (one per kube-remediator installation).')
        .datasource(DATASOURCE)
        .query('label_values(kube_remediator_alerts_total, cluster)')
        .definition('label_values(kube_remediator_alerts_total, cluster)')
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc)
        .multi(true)
        .includeAll(true)
        // Matches series without a cluster label too: a single-cluster Prometheus has none.
        .allValue('.*')
        .current({ text: 'All', value: '$__all', selected: true }),
    );
}

function overview(d: DashboardBuilder): DashboardBuilder {
  const finished = 'kube_remediator_remediations_finished_total';
  return d
    .withRow(new RowBuilder('Overview (time range)'))
    .withPanel(
      total(
        'Remediations started',
        'Remediations that started in the time range (past approval and the budgets).',
        `sum(increase(kube_remediator_remediations_started_total{${SEL}}[$__range]))`,
        [[0, 'blue']],
      ),
    )
    .withPanel(
      total(
        'Failures',
        'Remediations that ended failed or blocked (loop protection), and reverts that failed, in the time range.',
        `sum(increase(${finished}{${SEL},result=~"failed|blocked|revert_failed"}[$__range]))`,
        [
          [0, 'green'],
          [1, 'red'],
        ],
      ),
    )
    .withPanel(
      total(
        'Awaiting approval now',
        'Remediations waiting for a person: `kubectl annotate rem NAME kube-remediator.io/approved-by=NAME`.',
        `sum(max by (cluster, runbook) (kube_remediator_remediations{${SEL},phase="AwaitingApproval"}))`,
        [
          [0, 'green'],
          [1, 'orange'],
        ],
      ),
    )
    .withPanel(
      total(
        'Stores in fallback now',
        'Cooldown/rate-limit stores that are unreachable, with in-memory (per replica) limits serving instead.',
        `sum(max by (cluster, store) (kube_remediator_store_fallback{${SEL}}))`,
        [
          [0, 'green'],
          [1, 'red'],
        ],
      ),
    );
}

function remediations(d: DashboardBuilder): DashboardBuilder {
  const finished = 'kube_remediator_remediations_finished_total';
  return d
    .withRow(new RowBuilder('Remediations'))
    .withPanel(
      events('Remediations started, by runbook', 'Remediations that started, per runbook.', [
        query(increase('kube_remediator_remediations_started_total', 'runbook'), '{{runbook}}'),
      ]),
    )
    .withPanel(
      events(
        'Remediations finished, by result',
        'Ends: succeeded, failed, skipped (rejected or resolved before start), dry_run, blocked (loop protection); and later reverted or revert_failed.',
        [query(increase(finished, 'result'), '{{result}}')],
      ),
    )
    .withPanel(
      events('Remediations finished, by runbook and result', 'The same ends, per runbook.', [
        query(`${increase(finished, 'runbook, result')} > 0`, '{{runbook}}: {{result}}'),
      ]),
    )
    .withPanel(
      events(
        'Actions, by action and result',
        'Steps carried out: success, failure, dry_run, or refused before anything was sent (bounds, paused rollout).',
        [
          query(
            `${increase('kube_remediator_actions_total', 'action, result')} > 0`,
            '{{action}}: {{result}}',
          ),
        ],
      ),
    );
}

function latencies(d: DashboardBuilder): DashboardBuilder {
  return d
    .withRow(new RowBuilder('From the alert'))
    .withPanel(
      latency(
        'Time from alert to first action',
        "From the alert's startsAt to the first step's start, approval waits included (p50 and p95 per runbook). Remediations made by hand are not counted.",
        'kube_remediator_alert_to_first_action_seconds',
      ),
    )
    .withPanel(
      latency(
        'Time from alert to finish',
        "From the alert's startsAt to the Remediation's end (p50 and p95 per runbook); a revert later is not included.",
        'kube_remediator_alert_to_finish_seconds',
      ),
    );
}

function safety(d: DashboardBuilder): DashboardBuilder {
  return d
    .withRow(new RowBuilder('Reverts and approvals'))
    .withPanel(
      events(
        'Reverts and revert failures',
        'Reversible steps undone when the alert resolved (reverted), and reverts that failed for good (revert_failed: the change is still in place).',
        [
          query(
            increase(
              'kube_remediator_remediations_finished_total',
              'runbook, result',
              ',result=~"reverted|revert_failed"',
            ),
            '{{runbook}}: {{result}}',
          ),
        ],
      ),
    )
    .withPanel(
      new timeseries.PanelBuilder()
        .title('Awaiting approval, by runbook')
        .description('Remediations in phase AwaitingApproval (the leader’s count; standbys report none).')
        .datasource(DATASOURCE)
        .unit('short')
        .min(0)
        .decimals(0)
        .withTarget(
          query(
            `sum by (runbook) (max by (cluster, runbook) (kube_remediator_remediations{${SEL},phase="AwaitingApproval"}))`,
            '{{runbook}}',
          ),
        )
        .height(8)
        .span(12),
    );
}

function intake(d: DashboardBuilder): DashboardBuilder {
  const alerts = 'kube_remediator_alerts_total';
  return d
    .withRow(new RowBuilder('Webhook and stores'))
    .withPanel(
      events(
        'Alerts suppressed, by reason',
        'Alerts that matched a Runbook but started nothing: cooldown, rate limit (maxPerHour), out of scope (namespace), invalid param. Each is also an Event on the Runbook.',
        [query(increase(alerts, 'outcome', ',outcome=~"suppressed_.+"'), '{{outcome}}')],
      ),
    )
    .withPanel(
      events(
        'Alerts, by outcome',
        'What became of each alert: created a Remediation, duplicate, unmatched, resolved (marked for revert, or unknown), error.',
        [query(`${increase(alerts, 'outcome', ',outcome!~"suppressed_.+"')} > 0`, '{{outcome}}')],
      ),
    )
    .withPanel(
      events(
        'Webhook answers, by status code',
        '2xx: every outcome stored. 4xx: refused (auth, payload), not retried. 5xx: Alertmanager retries.',
        [query(increase('kube_remediator_webhook_requests_total', 'code'), '{{code}}')],
      ),
    )
    .withPanel(
      new statetimeline.PanelBuilder()
        .title('Store fallback')
        .description(
          'Per cluster and store: memory (fallback) while Redis or PostgreSQL is unreachable and each replica keeps its own cooldowns and rate limits.',
        )
        .datasource(DATASOURCE)
        .withTarget(
          query(`max by (cluster, store) (kube_remediator_store_fallback{${SEL}})`, '{{cluster}} {{store}}'),
        )
        .mappings(FALLBACK_MAPPING)
        .showValue(common.VisibilityMode.Never)
        .mergeValues(true)
        .height(8)
        .span(12),
    );
}

export function buildDashboard(): Dashboard {
  let d = new DashboardBuilder('kube-remediator')
    .uid(DASHBOARD_UID)
    .description('What kube-remediator did, how long it took from the alert, and what waits for a person.')
    .tags(['kube-remediator', 'kubernetes'])
    .editable()
    .refresh('30s')
    .time({ from: 'now-6h', to: 'now' })
    .timezone('browser');
  for (const section of [variables, overview, remediations, latencies, safety, intake]) d = section(d);
  const dashboard = d.build();
  // Stable ids, so that links to one panel (`viewPanel=`) survive a regeneration.
  (dashboard.panels ?? []).forEach((p, i) => {
    p.id = i + 1;
  });
  return dashboard;
}
