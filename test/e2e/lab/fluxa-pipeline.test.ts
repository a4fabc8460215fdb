import { fluxaPipeline } from '../../../lab/scenarios/fluxa-pipeline.js';
import { seedTest } from './seed-test.js';

seedTest(fluxaPipeline);
