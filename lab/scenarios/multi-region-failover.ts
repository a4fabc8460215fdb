/**
 * Seed multi-region-failover.md, §3.3 "Degraded Mode (WAL Lag Exceeds RPO)", option A:
 * eu-west goes down, the GSLB sends all traffic to us-east, and WAL cross-region replication
 * lags beyond the 2-minute RPO (WalReplicationLag). After an incident commander approves,
 * the Runbook confirms the lag, sets DEGRADED_MODE=true on the surviving region's backend,
 * verifies health and the error rate, announces the incident, and turns degraded mode off when
 * replication has caught up.
 *
 * Two control planes, one per region (each region is its own cluster); the operator runs in
 * us-east. Real here: both control planes, Prometheus, Alertmanager, the operator bundle. The
 * backends' /health and traffic counters, the GSLB and the S3 replication lag are stand-ins.
 */
import assert from 'node:assert/strict';
import { Counter, Gauge } from 'prom-client';
import { RUNBOOK_NAMESPACE, type Lab, type LabRegion } from '../harness/lab.js';
import { startKubeState } from '../harness/kube-state.js';
import { deployment, env, envOf, namespace, service } from '../harness/manifests.js';
import { stepsOf, type Scenario } from '../harness/scenario.js';
import { StandIn } from '../harness/stand-in.js';

const NS = 'fractal-lba';
const ALERT = 'WalReplicationLag';
const REGIONS = ['us-east', 'eu-west'] as const;
type Region = (typeof REGIONS)[number];
/** "7m12s" in the sample Remediation: past the 5-minute alert and the 2-minute RPO. */
const LAG_DURING_OUTAGE = 432;
/** "Monitoring WAL replication lag: 45 seconds (within RPO)" (§7.1). */
const LAG_CAUGHT_UP = 45;

function manifests(region: Region): object[] {
  return [
    namespace(NS),
    deployment({
      name: 'backend',
      namespace: NS,
      replicas: 3,
      labels: { app: 'backend', region },
      containers: [
        {
          name: 'backend',
          image: 'registry.example/fractal-lba/backend:0.4.2',
          env: env({ REGION_ID: region, DEDUP_BACKEND: 'redis' }),
          ports: [{ containerPort: 8080 }],
        },
      ],
    }),
    service('backend', NS, { app: 'backend' }, { http: 8080 }),
  ];
}

interface Regions {
  backends: Record<Region, StandIn>;
  crr: StandIn;
  lag: Gauge;
  down: Set<Region>;
}

/**
 * Stand-ins for each region's backend (/health, `flk_ingest_total` by status), the GSLB that
 * sends 10 submissions a second to the healthy regions, and S3 CRR's replication lag.
 */
function regionStandIns(lab: Lab, clusters: Record<Region, LabRegion>): Regions {
  const down = new Set<Region>();
  const crr = new StandIn('S3 cross-region replication (WAL lag)');
  const lag = new Gauge({
    name: 'flk_wal_replication_lag_seconds',
    help: 'WAL CRR lag.',
    labelNames: ['source_region', 'target_region'],
    registers: [crr.registry],
  });
  lag.set({ source_region: 'eu-west', target_region: 'us-east' }, 20);
  const backends = {} as Record<Region, StandIn>;
  const ingest = {} as Record<Region, Counter>;
  for (const region of REGIONS) {
    const s = new StandIn(`backend in ${region}`);
    ingest[region] = new Counter({
      name: 'flk_ingest_total',
      help: 'PCS submissions.',
      labelNames: ['region', 'status'],
      registers: [s.registry],
    });
    for (const status of ['200', '503']) ingest[region].inc({ region, status }, 0);
    s.route('GET', '/health', async () => {
      if (down.has(region)) return { status: 503, body: { status: 'unavailable' } };
      const d = await clusters[region].clients.apps.readNamespacedDeployment({
        name: 'backend',
        namespace: NS,
      });
      const degraded = envOf(d, 'backend').some((e) => e.name === 'DEGRADED_MODE' && e.value === 'true');
      return { status: 200, body: { status: 'ok', region, degraded } };
    });
    backends[region] = s;
  }
  let n = 0;
  lab.every('GSLB traffic', 100, () => {
    const healthy = REGIONS.filter((r) => !down.has(r));
    const region = healthy[n++ % Math.max(1, healthy.length)];
    if (region) ingest[region].inc({ region, status: '200' });
    return Promise.resolve();
  });
  return { backends, crr, lag, down };
}

async function play(lab: Lab): Promise<void> {
  // The operator runs in the first region: us-east, the one that survives.
  const clusters = { 'us-east': await lab.region('us-east'), 'eu-west': await lab.region('eu-west') };
  for (const r of REGIONS) await lab.apply(manifests(r), clusters[r]);
  const regions = regionStandIns(lab, clusters);
  const targets = [{ job: 's3-crr', address: (await lab.standIn(regions.crr)).hostPort }];
  for (const r of REGIONS) {
    const b = await lab.standIn(regions.backends[r]);
    const ks = await lab.standIn(
      await startKubeState(clusters[r].kc, { namespaces: [NS], labels: { region: r } }),
    );
    targets.push(
      { job: `backend-${r}`, address: b.hostPort },
      { job: `kube-state-metrics-${r}`, address: ks.hostPort },
    );
    await lab.rolledOut('Deployment', NS, 'backend', clusters[r]);
  }
  lab.address('backend', regions.backends['us-east'].host, regions.backends['us-east'].port);

  await lab.startPipeline({
    targets,
    rules: [
      {
        alert: ALERT,
        expr: 'label_replace(max by (source_region) (flk_wal_replication_lag_seconds), "region", "$1", "source_region", "(.*)") > 300',
        labels: {
          severity: 'warning',
          namespace: NS,
          deployment: 'backend',
          failover_region: 'us-east',
          bucket: 'flk-wal-eu-west',
        },
        annotations: { summary: 'WAL cross-region replication lag above RPO' },
      },
      {
        // Not answered by a Runbook: the GSLB reroutes by itself (§3.1).
        alert: 'RegionDown',
        expr: 'sum by (region) (kube_deployment_status_replicas_available{deployment="backend"}) == 0',
        for: '2s',
        labels: { severity: 'critical', namespace: NS },
      },
    ],
  });
  await lab.notifySecret('incidents-slack-webhook', 'incidents');
  await lab.applyRunbookSample('multi-region-failover');
  const backendEnv = async (r: Region) =>
    envOf(
      await clusters[r].clients.apps.readNamespacedDeployment({ name: 'backend', namespace: NS }),
      'backend',
    );
  const before = { 'us-east': await backendEnv('us-east'), 'eu-west': await backendEnv('eu-west') };

  // eu-west goes down: its pods fail readiness, the GSLB stops sending it traffic, and its WAL
  // stops replicating.
  clusters['eu-west'].kubelet.setFault(NS, 'backend-', 'neverReady');
  await clusters['eu-west'].kubelet.resync();
  regions.down.add('eu-west');
  lab.timeline.add('fault', 'eu-west down: backend pods not ready, traffic rerouted to us-east');
  regions.lag.set({ source_region: 'eu-west', target_region: 'us-east' }, LAG_DURING_OUTAGE);
  lab.timeline.add('fault', `WAL replication lag from eu-west at ${LAG_DURING_OUTAGE} s (RPO 120 s)`);

  const rem = await lab.remediationFor(ALERT);
  const waiting = await lab.waitPhase(rem.metadata.name!, 'AwaitingApproval');
  await lab.check('nothing before approval: no step started, both regions untouched', async () => {
    assert.ok((waiting.status?.steps ?? []).every((s) => s.phase === 'Pending'));
    assert.deepEqual(await backendEnv('us-east'), before['us-east']);
    assert.deepEqual(await backendEnv('eu-west'), before['eu-west']);
  });
  // The degraded-mode step is approved on its own (step approval, issue #12), within the RTO.
  await lab.approveStep(rem.metadata.name!, 'enable-degraded-mode', 'incident-commander');
  const done = await lab.waitPhase(rem.metadata.name!, 'Succeeded');
  const steps = stepsOf(done);
  await lab.check(
    'guard met (lag past the RPO); step approval recorded; health and error rate verified',
    () => {
      assert.equal(done.status?.guard?.result, 'Met');
      // Verified by the operator (TokenReview): the ServiceAccount's user name, not a claim.
      assert.equal(
        steps['enable-degraded-mode']?.approval?.by,
        `system:serviceaccount:${RUNBOOK_NAMESPACE}:incident-commander`,
      );
      for (const s of ['enable-degraded-mode', 'check-backend-health', 'check-error-rate'])
        assert.equal(steps[s]?.phase, 'Succeeded', s);
      assert.match(lab.chatMessages('incidents').join('\n'), /DEGRADED_MODE=true/);
    },
  );
  await lab.check('degraded mode in the surviving region only', async () => {
    assert.deepEqual(await backendEnv('us-east'), [
      ...before['us-east'],
      { name: 'DEGRADED_MODE', value: 'true' },
    ]);
    assert.deepEqual(await backendEnv('eu-west'), before['eu-west']);
  });

  regions.lag.set({ source_region: 'eu-west', target_region: 'us-east' }, LAG_CAUGHT_UP);
  lab.timeline.add('heal', `WAL replication caught up: lag ${LAG_CAUGHT_UP} s`);
  // onResolve: the revert waits for its gate (lag back within the RPO), then a 10-minute soak
  // holds while health and the error ratio stay good. The lab does not wait the soak out.
  const soaking = await lab.waitFor('degraded mode reverted and the recovery soak holding', async () => {
    const r = (await lab.remediations()).find((x) => x.metadata.name === rem.metadata.name);
    const s = r ? stepsOf(r) : {};
    return s['enable-degraded-mode']?.phase === 'Reverted' &&
      s['soak-after-recovery']?.phase === 'Running' &&
      /^holding/.test(s['soak-after-recovery']?.message ?? '')
      ? r
      : undefined;
  });
  await lab.check(
    'reverted once the lag was back within the RPO; the soak holds: us-east env as before',
    async () => {
      const s = stepsOf(soaking);
      assert.equal(s['revert-gate']?.phase, 'Succeeded');
      assert.equal(soaking.status?.phase, 'Reverting');
      assert.deepEqual(await backendEnv('us-east'), before['us-east']);
    },
  );
  clusters['eu-west'].kubelet.setFault(NS, 'backend-', 'none');
  await clusters['eu-west'].kubelet.resync();
  regions.down.delete('eu-west');
  lab.timeline.add('heal', 'eu-west back: pods ready, GSLB sends it traffic again');
  await lab.waitFor('RegionDown resolved', async () => !(await lab.firing('RegionDown')));
}

export const multiRegionFailover: Scenario = {
  seed: 'multi-region-failover',
  summary:
    'eu-west down and WAL lag past the RPO → WalReplicationLag → waits for approval, then DEGRADED_MODE=true in us-east only, health and error rate verified; reverted when replication catches up',
  play,
};
