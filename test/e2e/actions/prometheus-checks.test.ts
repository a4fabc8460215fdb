/**
 * prometheusQuery's noData and ratio against a real Prometheus (Debian's), which scrapes a
 * stand-in for an application's /metrics endpoint (the app is the only double here: its
 * numbers are what the test sets). Each case runs as a step (which polls) and as the check of
 * a guard (one look, through evaluateCheck).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PrometheusQueryParams } from '../../../src/api/v1alpha1/schema.js';
import { getAction } from '../../../src/actions/index.js';
import { evaluateCheck } from '../../../src/actions/checks/evaluate.js';
import { startPrometheus, type TestPrometheus } from '../../support/services.js';
import { waitFor } from '../../support/kube.js';
import { actionCtx } from './helpers.js';

/** The stand-in app's metrics, as exposition lines; tests change them and wait for a scrape. */
const metrics = new Map<string, number>([
  ['app_requests{region="eu"}', 200],
  ['app_requests{region="us"}', 0],
  ['app_lag_seconds{source_region="eu"}', 30],
]);

let app: Server;
let prom: TestPrometheus;

/** Sets a metric (undefined removes the series) and waits until Prometheus has scraped it. */
async function setMetric(series: string, value: number | undefined): Promise<void> {
  if (value === undefined) metrics.delete(series);
  else metrics.set(series, value);
  await waitFor(
    async () => {
      const got = await prom.query(series);
      return value === undefined ? got.length === 0 : got[0]?.value === value;
    },
    { what: `Prometheus scraped ${series} = ${value}` },
  );
}

beforeAll(async () => {
  app = createServer((req, res) => {
    if (req.url !== '/metrics') return void res.writeHead(404).end();
    const body = [...metrics].map(([series, v]) => `${series} ${v}`).join('\n');
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(`${body}\n`);
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  prom = await startPrometheus({
    targets: [{ job: 'app', address: `127.0.0.1:${(app.address() as AddressInfo).port}` }],
  });
  await waitFor(async () => (await prom.query('app_requests')).length === 2, { what: 'the app scraped' });
});
afterAll(async () => {
  await prom?.destroy();
  await new Promise((r) => app.close(r));
});

type Params = Omit<PrometheusQueryParams, 'url'>;
const ctx = () => actionCtx({ namespace: 'default', step: { action: 'prometheusQuery' } });
const step = (p: Params) =>
  getAction('prometheusQuery').apply(
    actionCtx({
      namespace: 'default',
      step: { action: 'prometheusQuery', prometheusQuery: { url: prom.url, ...p } },
    }),
    { name: 'step', action: 'prometheusQuery', phase: 'Running' },
  );
const guard = (p: Params) => evaluateCheck({ name: 'c', prometheusQuery: { url: prom.url, ...p } }, ctx());

const errorRatio = (region: string) => ({
  numerator: `sum(app_errors{region="${region}"})`,
  denominator: `sum(app_requests{region="${region}"})`,
});

describe('prometheusQuery on a real Prometheus', () => {
  it('a ratio whose numerator has no series yet is 0: "error rate < 1%" passes while healthy', async () => {
    const p: Params = { ratio: errorRatio('eu'), expect: { op: '<', value: 0.01 } };
    expect(await step(p)).toMatchObject({
      kind: 'done',
      message: expect.stringMatching(/all 1 sample\(s\) < 0\.01$/),
      output: { samples: [{ labels: {}, value: 0 }] },
    });
    expect(await guard(p)).toMatchObject({ result: 'Met' });
  });

  it('a zero denominator (no traffic) is no data, which means what noData says', async () => {
    const base: Params = { ratio: errorRatio('us'), expect: { op: '<', value: 0.01 } };
    expect(await step(base)).toMatchObject({
      kind: 'inProgress',
      message: expect.stringMatching(/no samples: no data yet \(noData: Wait\)$/),
    });
    expect(await step({ ...base, noData: 'Pass' })).toMatchObject({ kind: 'done' });
    expect(await step({ ...base, noData: 'Fail' })).toMatchObject({
      kind: 'failed',
      reason: 'NoData',
      retryable: true,
    });
    // a guard without evidence is not met
    expect(await guard(base)).toMatchObject({
      result: 'NotMet',
      message: expect.stringMatching(/noData: Fail/),
    });
    expect(await guard({ ...base, noData: 'Pass' })).toMatchObject({ result: 'Met' });
  });

  it('NaN (0/0 written as a plain query) counts as no data too', async () => {
    const p: Params = {
      query: 'sum(app_requests{region="us"}) / sum(app_requests{region="us"})',
      expect: { op: '<', value: 0.01 },
    };
    expect(await step(p)).toMatchObject({
      kind: 'inProgress',
      message: expect.stringMatching(/only NaN \(1 sample\(s\)\): no data yet/),
      output: { samples: [{ labels: {}, value: 'NaN' }] },
    });
    expect(await step({ ...p, noData: 'Fail' })).toMatchObject({ kind: 'failed', reason: 'NoData' });
    expect(await guard({ ...p, noData: 'Pass' })).toMatchObject({ result: 'Met' });
  });

  it('an empty result of a series that does not exist', async () => {
    const p: Params = { query: 'app_missing_total', noData: 'Fail' };
    expect(await step(p)).toMatchObject({
      kind: 'failed',
      reason: 'NoData',
      message: expect.stringMatching(/no samples/),
    });
    expect(await guard({ query: 'app_missing_total' })).toMatchObject({ result: 'NotMet' });
  });

  it('once errors appear the ratio is what it is: "> 5%" (Fluxa) holds, "< 1%" waits', async () => {
    await setMetric('app_errors{region="eu"}', 20);
    try {
      expect(await step({ ratio: errorRatio('eu'), expect: { op: '>', value: 0.05 } })).toMatchObject({
        kind: 'done',
        output: { samples: [{ labels: {}, value: 0.1 }] },
      });
      expect(await step({ ratio: errorRatio('eu'), expect: { op: '<', value: 0.01 } })).toMatchObject({
        kind: 'inProgress',
        message: expect.stringMatching(/sample 0\.1 is not < 0\.01$/),
      });
      // per region: eu has a ratio, us (no traffic) drops out rather than reading as NaN
      const byRegion = await step({
        ratio: {
          numerator: 'sum by (region) (app_errors)',
          denominator: 'sum by (region) (app_requests)',
        },
        expect: { op: '<', value: 0.5 },
      });
      expect(byRegion).toMatchObject({
        kind: 'done',
        output: { samples: [{ labels: { region: 'eu' }, value: 0.1 }] },
      });
    } finally {
      await setMetric('app_errors{region="eu"}', undefined);
    }
  });

  it('the RPO guard: only met once the lag exceeds 2 minutes', async () => {
    const rpo: Params = {
      query: 'max(app_lag_seconds{source_region="eu"})',
      expect: { op: '>', value: 120 },
    };
    expect(await guard(rpo)).toMatchObject({
      result: 'NotMet',
      message: expect.stringMatching(/sample 30 is not > 120$/),
    });
    await setMetric('app_lag_seconds{source_region="eu"}', 150);
    expect(await guard(rpo)).toMatchObject({ result: 'Met', output: { samples: [{ value: 150 }] } });
  });

  it('a query Prometheus rejects fails at once, as a step and as a check', async () => {
    expect(await step({ query: 'sum(' })).toMatchObject({
      kind: 'failed',
      reason: 'InvalidQuery',
      retryable: false,
    });
    expect(await guard({ query: 'sum(' })).toMatchObject({
      result: 'Error',
      message: expect.stringMatching(/was rejected/),
    });
  });
});
