/** The five seed scenarios, in the order of the README's table. */
import type { Scenario } from '../harness/scenario.js';
import { dataStorageService } from './data-storage-service.js';
import { dedupStoreOutage } from './dedup-store-outage.js';
import { fluxaPipeline } from './fluxa-pipeline.js';
import { multiRegionFailover } from './multi-region-failover.js';
import { redisOutage } from './redis-outage.js';

export const SCENARIOS: readonly Scenario[] = [
  dedupStoreOutage,
  redisOutage,
  fluxaPipeline,
  dataStorageService,
  multiRegionFailover,
];
