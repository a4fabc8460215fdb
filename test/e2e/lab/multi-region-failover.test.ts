import { multiRegionFailover } from '../../../lab/scenarios/multi-region-failover.js';
import { seedTest } from './seed-test.js';

seedTest(multiRegionFailover);
