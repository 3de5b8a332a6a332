/**
 * The module every worker thread starts with: it imports every kernel module, so the registry is
 * complete, then serves tasks. It lives above `models/` because it must know them all; the engine
 * itself stays below them and only receives this module's URL.
 */
import '../models/kernels.ts';
import { runWorker } from '../engine/local/worker-main.ts';

runWorker();
