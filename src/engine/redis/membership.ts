/**
 * Who is in the cluster: every worker keeps a heartbeat key with a TTL (its name, cores, memory,
 * threads); a worker whose key expired is gone. The driver counts the live keys to wait for
 * `--min-workers`.
 */
import type { Redis } from 'ioredis';
import { DistmlError } from '../../errors.ts';
import type { ClusterKeys } from './cluster-keys.ts';

/** What a worker says about itself. */
export interface WorkerInfo {
  readonly id: string;
  readonly name: string;
  readonly pid: number;
  readonly host: string;
  readonly cores: number;
  /** The machine's total memory. */
  readonly memoryBytes: number;
  readonly threads: number;
  readonly startedAt: string;
  /** The machine's available memory (free, plus caches it can drop) at the last heartbeat. */
  readonly freeBytes?: number;
  /** Bytes of the partitions this worker held at the last heartbeat. */
  readonly heldBytes?: number;
}

/** The figures of {@link WorkerInfo} that change while a worker runs, renewed with every heartbeat. */
export type WorkerLoad = Pick<WorkerInfo, 'freeBytes' | 'heldBytes'>;

/** How long a heartbeat lives without renewal, and how often it is renewed. */
export const HEARTBEAT_TTL_MS = 10_000;
export const HEARTBEAT_EVERY_MS = 3_000;

/**
 * Starts renewing `info`'s heartbeat, which lives `ttlMs` without renewal and is renewed three
 * times per TTL, each time with the figures `load` gives then; the returned function stops it,
 * deletes it and marks the worker as having left (so the driver logs a departure rather than a
 * death).
 */
export async function startHeartbeat(
  redis: Redis,
  keys: ClusterKeys,
  info: WorkerInfo,
  ttlMs = HEARTBEAT_TTL_MS,
  load: () => WorkerLoad = () => ({}),
): Promise<() => Promise<void>> {
  const key = keys.worker(info.id);
  const beat = () => redis.set(key, JSON.stringify({ ...info, ...load() }), 'PX', ttlMs);
  await beat();
  const timer = setInterval(
    () => {
      beat().catch(() => {
        // Redis is away: ioredis reconnects, and the next beat renews the key.
      });
    },
    Math.min(HEARTBEAT_EVERY_MS, Math.floor(ttlMs / 3)),
  );
  timer.unref();
  return async () => {
    clearInterval(timer);
    await redis.set(keys.left(info.id), '1', 'PX', 60_000).catch(() => 0);
    await redis.del(key).catch(() => 0);
  };
}

/** The workers whose heartbeat is alive. */
export async function liveWorkers(redis: Redis, keys: ClusterKeys): Promise<WorkerInfo[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', keys.workerPattern(), 'COUNT', 100);
    cursor = next;
    found.push(...batch);
  } while (cursor !== '0');
  if (found.length === 0) return [];
  const values = await redis.mget(found);
  const out: WorkerInfo[] = [];
  for (const v of values) {
    if (v === null) continue;
    try {
      out.push(JSON.parse(v) as WorkerInfo);
    } catch {
      // A heartbeat that is not JSON is not a distml worker's: ignore it.
    }
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

/**
 * Waits until at least `min` workers are alive.
 * @throws DistmlError after `timeoutMs`, saying how many were seen and how to start more
 */
export async function waitForWorkers(
  redis: Redis,
  keys: ClusterKeys,
  min: number,
  timeoutMs: number,
  onWait?: (seen: number) => void,
): Promise<WorkerInfo[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const workers = await liveWorkers(redis, keys);
    if (workers.length >= min) return workers;
    if (Date.now() >= deadline) {
      throw new DistmlError(
        'KERNEL',
        `only ${workers.length} of the ${min} workers asked for by --min-workers joined within ${Math.round(timeoutMs / 1000)} s`,
        'start more with `distml worker --cluster URL` on machines that reach this Redis, or lower --min-workers',
      );
    }
    onWait?.(workers.length);
    await new Promise((r) => setTimeout(r, 250));
  }
}
