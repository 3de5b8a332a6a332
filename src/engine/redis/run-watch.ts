/**
 * The driver's watch over a cluster run: that Redis still holds the run (its sentinel key), still
 * answers, and that some worker is alive. Any of these failing ends the run with an error that
 * says what happened and how to go on, instead of a fit that waits forever or trains on from
 * nothing.
 */
import type { Redis } from 'ioredis';
import { DistmlError } from '../../errors.ts';
import { redactUrl } from './cluster-connection.ts';
import type { ClusterKeys } from './cluster-keys.ts';
import { liveWorkers } from './membership.ts';

/** What {@link watchRun} watches. */
export interface WatchedRun {
  readonly redis: Redis;
  readonly keys: ClusterKeys;
  readonly run: string;
  /** The cluster URL, printed redacted. */
  readonly url: string;
  /** How long Redis may stay silent. */
  readonly unreachableMs: number;
  /** How long the run may go without a live worker. */
  readonly aloneMs: number;
}

/**
 * Every second, checks that the run's sentinel key still exists. Its loss means Redis restarted
 * without persistence, was flushed or evicted keys: the queued tasks and partitions are gone,
 * and training on would start from nothing, so the fit stops and says how to resume.
 */
export function watchRun(w: WatchedRun, reject: (err: Error) => void): NodeJS.Timeout {
  let lastAnswer = Date.now();
  let lastWorker = Date.now();
  let asking = false;
  let tick = 0;
  const limit = w.unreachableMs;
  const alone = w.aloneMs;
  const timer = setInterval(() => {
    if (Date.now() - lastWorker > alone) {
      clearInterval(timer);
      reject(
        new DistmlError(
          'KERNEL',
          `no worker has been alive for ${Math.round(alone / 1000)} s: every worker of this fit left or died`,
          'start workers with `distml worker --cluster URL`; with --checkpoint-dir, rerun with --resume',
        ),
      );
      return;
    }
    if (Date.now() - lastAnswer > limit) {
      clearInterval(timer);
      reject(
        new DistmlError(
          'KERNEL',
          `Redis at ${redactUrl(w.url)} has not answered for ${Math.round(limit / 1000)} s`,
          'check that redis-server runs and is reachable; with --checkpoint-dir, rerun with --resume',
        ),
      );
      return;
    }
    if (asking) return;
    asking = true;
    // Membership costs a SCAN, so it is checked every few seconds; the sentinel every second.
    const checkWorkers = tick++ % 3 === 0;
    w.redis
      .exists(w.keys.sentinel(w.run))
      .then(async (n) => {
        lastAnswer = Date.now();
        if (checkWorkers && (await liveWorkers(w.redis, w.keys)).length > 0) lastWorker = Date.now();
        if (n === 0) {
          clearInterval(timer);
          reject(
            new DistmlError(
              'KERNEL',
              `Redis lost the data of run ${w.run} (its sentinel key is gone: Redis restarted without persistence, was flushed, or evicted keys)`,
              'rerun with --checkpoint-dir DIR --resume to continue from the last checkpoint; run Redis with appendonly yes and maxmemory-policy noeviction',
            ),
          );
        }
      })
      .catch(() => {})
      .finally(() => {
        asking = false;
      });
  }, 1000);
  timer.unref();
  return timer;
}
