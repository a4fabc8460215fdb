/** The informer against a real API server: events, cache, and recovery after its watch dies. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { Remediation } from '../../../src/api/v1alpha1/schema.js';
import { KINDS } from '../../../src/controller/caches.js';
import {
  apiPathOf,
  clientNodeFactory,
  customObjectLister,
  ResourceInformer,
} from '../../../src/runtime/informer.js';
import { remediations } from '../../../src/kube/resources.js';
import type { KubeClients } from '../../../src/kube/client.js';
import type { Logger } from '../../../src/observability/logger.js';
import { createNamespace, deleteNamespace, testClients } from '../../support/kube.js';
import {
  aRemediation,
  eventually,
  proxiedClients,
  recordingLogger,
  type CuttableProxy,
  type LogRecord,
} from './helpers.js';

function anInformer(clients: KubeClients, namespace: string, logger: Logger) {
  const informer = new ResourceInformer<Remediation>({
    plural: 'remediations',
    apiPath: apiPathOf(KINDS.remediation),
    namespace,
    list: customObjectLister<Remediation>(clients.custom, KINDS.remediation, namespace),
    factory: clientNodeFactory(clients.kc),
    logger,
    // Short, so the test sees several restarts during a few seconds of outage.
    restartBackoffInitialMs: 200,
    restartBackoffMaxMs: 1000,
  });
  const events: string[] = [];
  informer.addHandlers({
    add: (o) => events.push(`add ${o.metadata.name}`),
    update: (o) => events.push(`update ${o.metadata.name}`),
    delete: (o) => events.push(`delete ${o.metadata.name}`),
  });
  return { informer, events };
}

describe('ResourceInformer on a real API server', () => {
  let ns: string;
  let informer: ResourceInformer<Remediation> | undefined;
  let proxy: CuttableProxy | undefined;
  const rems = () => remediations(testClients());

  beforeAll(async () => {
    ns = await createNamespace('rt-informer');
  });
  afterEach(async () => {
    await informer?.stop();
    await proxy?.close();
    informer = undefined;
    proxy = undefined;
  });
  afterAll(async () => {
    await deleteNamespace(ns);
  });

  it('lists what exists, then sees adds, updates and deletes', async () => {
    await rems().create(ns, aRemediation('before'));
    const { logger } = recordingLogger();
    const made = anInformer(testClients(), ns, logger);
    informer = made.informer;
    informer.start();
    await informer.waitForSync(30_000);
    expect(informer.get(ns, 'before')?.spec.runbookRef?.name).toBe('restart-web');

    await rems().create(ns, aRemediation('after'));
    await eventually(() => informer!.get(ns, 'after'), { what: 'add seen' });
    await rems().patch(ns, 'after', { metadata: { labels: { touched: 'yes' } } });
    await eventually(() => informer!.get(ns, 'after')?.metadata.labels?.touched === 'yes', {
      what: 'update seen',
    });
    await rems().delete(ns, 'before');
    await eventually(() => informer!.get(ns, 'before') === undefined, { what: 'delete seen' });

    expect(made.events).toEqual(['add before', 'add after', 'update after', 'delete before']);
    expect(informer.list(ns).map((o) => o.metadata.name)).toEqual(['after']);
    expect(informer.list('elsewhere')).toEqual([]);
  });

  it('lists in pages: every object once, the snapshot resourceVersion, no managedFields', async () => {
    const pns = await createNamespace('rt-pages');
    try {
      for (let i = 0; i < 5; i++) await rems().create(pns, aRemediation(`paged-${i}`));
      const list = await customObjectLister<Remediation>(testClients().custom, KINDS.remediation, pns, 2)();
      expect(list.items.map((o) => o.metadata.name).sort()).toEqual([0, 1, 2, 3, 4].map((i) => `paged-${i}`));
      expect(list.metadata?.resourceVersion).toMatch(/^\d+$/);
      expect(list.items.some((o) => 'managedFields' in o.metadata)).toBe(false);
    } finally {
      await deleteNamespace(pns);
    }
  });

  it('restarts after its watch dies and catches up on what happened meanwhile', async () => {
    const p = await proxiedClients();
    proxy = p.proxy;
    const { logger, records } = recordingLogger();
    const made = anInformer(p.clients, ns, logger);
    informer = made.informer;
    informer.start();
    await informer.waitForSync(30_000);

    // The network dies: the watch breaks and every reconnect is refused.
    proxy.cut();
    await rems().create(ns, aRemediation('during-outage'));
    await eventually(
      () => records.filter((r: LogRecord) => r.message === 'informer failed, restarting').length >= 2,
      {
        what: 'failed restarts while cut off',
        timeoutMs: 20_000,
      },
    );
    expect(informer.get(ns, 'during-outage')).toBeUndefined();

    proxy.restore();
    await eventually(() => informer!.get(ns, 'during-outage'), {
      what: 'the object created during the outage',
      timeoutMs: 20_000,
    });
    // And the watch works again afterwards, not only the relist.
    await rems().create(ns, aRemediation('after-outage'));
    await eventually(() => informer!.get(ns, 'after-outage'), { what: 'an object created after recovery' });
    expect(made.events).toContain('add during-outage');
    expect(informer.healthy()).toBe(true);
  });
});
