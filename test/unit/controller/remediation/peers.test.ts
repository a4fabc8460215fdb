/**
 * The narrowed views of the peers a rule reads (Pass.peersOn, activePeers, peersWithStepOn):
 * exactly the peers that rule would have picked from the whole list, in the list's order.
 */
import { describe, expect, it } from '@jest/globals';
import type { Remediation } from '../../../../src/api/v1alpha1/schema.js';
import { targetKeyOf } from '../../../../src/api/v1alpha1/lifecycle.js';
import { Pass } from '../../../../src/controller/remediation/pass.js';
import { isActive } from '../../../../src/controller/remediation/policy.js';
import { NS, aRemediation, observed, stepRec } from './builders.js';

const rem = (
  name: string,
  phase: string,
  target: string | undefined,
  stepTargets: string[] = [],
): Remediation =>
  aRemediation({
    name,
    status: {
      phase: phase as never,
      ...(target ? { target } : {}),
      steps: stepTargets.map((t, i) => ({ ...stepRec({ name: `s${i}` }), target: t })),
    },
  });

describe('Pass: the peers a rule reads', () => {
  const peers = [
    rem('a', 'Running', 'Deployment/web', [`Deployment/${NS}/web`]),
    rem('b', 'Succeeded', `Deployment/${NS}/web`, [`Deployment/${NS}/web`, `Deployment/${NS}/web`]),
    rem('c', 'Reverting', 'Deployment/api', [`Deployment/${NS}/api`, `Deployment/${NS}/web`]),
    rem('d', 'Pending', undefined),
    aRemediation({ name: 'e', namespace: 'other', status: { phase: 'Verifying', target: 'Deployment/web' } }),
  ];
  const p = new Pass(observed(aRemediation({ name: 'me' }), { peers }), undefined);

  it('peersOn: the peers whose target key is the one asked for, both spellings of status.target', () => {
    const key = `Deployment/${NS}/web`;
    expect(p.peersOn(key).map((r) => r.metadata.name)).toEqual(['a', 'b']);
    expect(p.peersOn(key)).toEqual(peers.filter((r) => targetKeyOf(r) === key));
    expect(p.peersOn('Deployment/other/web').map((r) => r.metadata.name)).toEqual(['e']);
    expect(p.peersOn(undefined)).toEqual([]);
  });

  it('activePeers: Running, Verifying and Reverting, in order', () => {
    expect(p.activePeers()).toEqual(peers.filter(isActive));
    expect(p.activePeers().map((r) => r.metadata.name)).toEqual(['a', 'c', 'e']);
  });

  it('peersWithStepOn: each peer once, however many of its steps are on the targets, in order', () => {
    expect(p.peersWithStepOn([`Deployment/${NS}/web`]).map((r) => r.metadata.name)).toEqual(['a', 'b', 'c']);
    expect(
      p.peersWithStepOn([`Deployment/${NS}/api`, `Deployment/${NS}/web`]).map((r) => r.metadata.name),
    ).toEqual(['a', 'b', 'c']);
    expect(p.peersWithStepOn([])).toEqual([]);
  });

  it('a target key parsed once per object stays right when the object is changed in place', () => {
    const r = rem('f', 'Running', 'Deployment/web');
    expect(targetKeyOf(r)).toBe(`Deployment/${NS}/web`);
    r.status!.target = 'Deployment/api';
    expect(targetKeyOf(r)).toBe(`Deployment/${NS}/api`);
  });
});
