/**
 * `kube_remediator_remediations{runbook, phase}` kept from the last phase each Remediation was
 * seen in, so updating it costs O(1) per pass instead of a walk over every Remediation.
 */
import type { Gauge } from 'prom-client';
import { REMEDIATION_PHASES } from '../../api/v1alpha1/schema.js';

export class PhaseGauge {
  private readonly last = new Map<string, { runbook: string; phase: string }>();

  constructor(private readonly gauge: Gauge<'runbook' | 'phase'>) {}

  set(key: string, runbook: string, phase: string): void {
    const prior = this.last.get(key);
    if (prior && prior.runbook === runbook && prior.phase === phase) return;
    if (prior) this.gauge.dec({ runbook: prior.runbook, phase: prior.phase });
    else for (const p of REMEDIATION_PHASES) this.gauge.inc({ runbook, phase: p }, 0);
    this.gauge.inc({ runbook, phase });
    this.last.set(key, { runbook, phase });
  }

  forget(key: string): void {
    const prior = this.last.get(key);
    if (!prior) return;
    this.gauge.dec({ runbook: prior.runbook, phase: prior.phase });
    this.last.delete(key);
  }
}
