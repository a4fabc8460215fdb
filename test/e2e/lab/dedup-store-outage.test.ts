import { dedupStoreOutage } from '../../../lab/scenarios/dedup-store-outage.js';
import { seedTest } from './seed-test.js';

seedTest(dedupStoreOutage);
