import { redisOutage } from '../../../lab/scenarios/redis-outage.js';
import { seedTest } from './seed-test.js';

seedTest(redisOutage);
