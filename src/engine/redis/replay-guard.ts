/**
 * Refuses replayed task messages. A signed message cannot be forged, but a copy of one can be put
 * back on the queue: as a new job (another job id), or under its own id once the original was
 * removed. Each nonce is therefore claimed in Redis (SET NX, with a TTL) by the job that first
 * runs it, and a message whose nonce belongs to another job is refused. Retries of the same job
 * (a failed attempt, or a stalled one whose worker died) carry the same job id and creation time,
 * so they still run.
 */
import type { Redis } from 'ioredis';
import type { ClusterKeys } from './cluster-keys.ts';
import type { TaskMessage } from './task-message.ts';

/**
 * How long a claimed nonce is remembered. It outlasts any job: the driver gives up on a task after
 * `taskTimeoutMs` (10 min by default) and BullMQ drops finished jobs within an hour.
 */
export const NONCE_TTL_MS = 24 * 3600 * 1000;

/** The BullMQ job a message arrived in: its id and the time it was added. */
export interface JobIdentity {
  readonly id?: string | undefined;
  readonly timestamp: number;
}

/**
 * Claims `m`'s nonce for `job`. Returns `'replayed'` when the message was made for another job id,
 * or its nonce was already claimed by another job (or by an earlier copy of this job id); returns
 * undefined when the message may run.
 */
export async function claimNonce(
  redis: Redis,
  keys: ClusterKeys,
  m: TaskMessage,
  job: JobIdentity,
): Promise<'replayed' | undefined> {
  // The signature covers the job id the driver chose: the same message in any other job is a copy.
  // Checked before claiming, so that a copy running first cannot lock the original out.
  if (job.id !== m.jobId) return 'replayed';
  const owner = `${job.id}@${job.timestamp}`;
  const key = keys.nonce(m.nonce);
  if ((await redis.set(key, owner, 'PX', NONCE_TTL_MS, 'NX')) === 'OK') return undefined;
  // Taken: by an earlier attempt of this very job (a retry, which must run), or by another job.
  return (await redis.get(key)) === owner ? undefined : 'replayed';
}
