/**
 * Where a worker gets the values a driver put out for its tasks (partitions it placed, kernel
 * arguments, broadcasts): from the driver itself over the task channel (task-channel.ts) when the
 * task message names one, from Redis otherwise (`rediss://`, or the channel turned off). Both name
 * a value by the same key (cluster-keys.ts), and concurrent tasks asking for the same value share
 * one transfer.
 */
import type { Redis } from 'ioredis';
import { DistmlError } from '../../errors.ts';
import { sharedBytes } from '../local/protocol.ts';
import { channelKey } from './channel-frames.ts';
import type { TaskMessage } from './task-message.ts';
import { checkDigest } from './value-digest.ts';
import type { WorkerChannels } from './worker-channels.ts';

/** Fetches driver values for the tasks of one worker. */
export class DriverValues {
  private readonly inFlight = new Map<string, Promise<Buffer | null>>();

  /**
   * @param allocate - the memory a value read from Redis is copied into: shared, at offset 0, the
   *   caller's to own (values over the channel arrive in the memory `channels` allocates)
   */
  constructor(
    private readonly redis: Redis,
    private readonly channels: WorkerChannels,
    private readonly secret: Buffer | undefined,
    private readonly allocate: (bytes: number) => Buffer = sharedBytes,
  ) {}

  /**
   * The bytes of value `key` for the task `m`, or null when neither the driver nor Redis holds it.
   * They own their memory (shared, aligned, reused by nothing else), so float64 views of them are
   * safe and kernel threads can read them in place.
   * @throws DistmlError when the message names a channel this worker cannot reach; UnrecoverableError
   *   under a cluster secret when a value read from Redis does not have the digest the task names
   */
  get(m: TaskMessage, key: string): Promise<Buffer | null> {
    const pending = this.inFlight.get(key);
    if (pending !== undefined) return pending;
    const fetching = this.fetch(m, key).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, fetching);
    return fetching;
  }

  private async fetch(m: TaskMessage, key: string): Promise<Buffer | null> {
    if (m.channel === undefined) {
      // Redis replies may share pooled memory: copied once into shared memory of their own.
      const reply = await this.redis.getBuffer(key);
      if (reply === null) return null;
      // Under a cluster secret the signed task names the value's digest.
      if (this.secret !== undefined) checkDigest(`the value ${key}`, reply, m.digests?.[key]);
      const own = this.allocate(reply.byteLength);
      own.set(reply);
      return own;
    }
    try {
      return await this.channels.fetch(m.channel, channelKey(m.run, this.secret, m.channelToken), key);
    } catch (err) {
      throw new DistmlError(
        'KERNEL',
        `cannot fetch ${key} from the driver at ${m.channel}: ${(err as Error).message}`,
        "every worker must reach the driver's task channel: start the driver with --channel-host set to an address the workers reach, or with --no-channel to move everything through Redis",
      );
    }
  }
}
