import {
  dataStorageService,
  dataStorageServiceDownDeploy,
  dataStorageServiceDownPostgres,
} from '../../../lab/scenarios/data-storage-service.js';
import { seedTest } from './seed-test.js';

seedTest(dataStorageService);
seedTest(dataStorageServiceDownDeploy);
seedTest(dataStorageServiceDownPostgres);
