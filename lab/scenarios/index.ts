/** The seed scenarios (data-storage-service has three), in the order of the README's table. */
import type { Scenario } from '../harness/scenario.js';
import {
  dataStorageService,
  dataStorageServiceDownDeploy,
  dataStorageServiceDownPostgres,
} from './data-storage-service.js';
import { dedupStoreOutage } from './dedup-store-outage.js';
import { fluxaPipeline } from './fluxa-pipeline.js';
import { multiRegionFailover } from './multi-region-failover.js';
import { redisOutage } from './redis-outage.js';

export const SCENARIOS: readonly Scenario[] = [
  dedupStoreOutage,
  redisOutage,
  fluxaPipeline,
  dataStorageService,
  dataStorageServiceDownDeploy,
  dataStorageServiceDownPostgres,
  multiRegionFailover,
];
