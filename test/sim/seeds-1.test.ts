// CI-sized simulation, part 2 of 2: vitest runs the two files in parallel, one per core.
import { describeSeedBatch } from './seed-batch.ts';

describeSeedBatch(1, 2);
