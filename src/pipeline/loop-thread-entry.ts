/**
 * The module a cluster worker starts each parameter-server loop thread with: it imports every
 * kernel module, so the loop registry is complete, then runs the loop the thread was given. Like
 * worker-entry.ts it lives above `models/`; the engine only receives its URL.
 */
import '../models/kernels.ts';
import { runLoopThread } from '../engine/redis/loop-thread.ts';

runLoopThread();
