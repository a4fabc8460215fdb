import { dataStorageService } from '../../../lab/scenarios/data-storage-service.js';
import { seedTest } from './seed-test.js';

seedTest(dataStorageService);
