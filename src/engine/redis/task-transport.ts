/**
 * How the tensors of cluster tasks travel, on the driver's side: the values it puts out for the
 * workers (partitions it placed, kernel arguments, broadcasts) and the results it reads back. With
 * the task channel open (task-channel.ts) values are served from the driver's memory and results
 * arrive over TCP; without it (`rediss://`, or turned off) both are binary Redis values. The
 * counts of bytes and transfers that the engine reports are kept here.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { DistmlError, TaskFailedError } from '../../errors.ts';
import { sha256Hex } from '../../format/sha256.ts';
import type { KernelArgs } from '../kernel-registry.ts';
import { channelKey } from './channel-frames.ts';
import type { ClusterKeys } from './cluster-keys.ts';
import { type ArrivingResult, DriverChannel, type RunFacts } from './task-channel.ts';
import { decodeFloat64, encodeArgs } from './tensor-codec.ts';

/** What a worker answers for a finished task. */
export interface TaskReturn {
  /** Where the result waits in Redis, unless it came over the task channel. */
  readonly resultKey?: string;
  /** The result came over the task channel. */
  readonly direct?: boolean;
  /** The job id that answered (set by the driver: a requeued task answers under a new one). */
  readonly jobId?: string;
  readonly runSeconds: number;
  readonly worker: string;
  /** The worker's id, for a look at the job in Redis (absent from profile tasks). */
  readonly workerId?: string;
  /** The worker's thread (task slot) that ran it, from 0 (absent from older workers). */
  readonly thread?: number;
  /** Which attempt of the task this was, from 1 (a stalled attempt counts). */
  readonly attempt: number;
}

/** What kind of value is put out, for the counts. */
export type ValueKind = 'partition' | 'args' | 'broadcast';

/** Options of {@link TaskTransport.open}. */
export interface TransportOptions {
  readonly redis: Redis;
  readonly keys: ClusterKeys;
  readonly run: string;
  /** The URL of Redis: over `rediss://` the channel is not opened. */
  readonly url: string;
  readonly secret?: Buffer;
  /** Whether to open the task channel. @defaultValue true */
  readonly channel?: boolean;
  readonly channelHost?: string;
  readonly channelPort?: number;
  /** Races a Redis call against the run's loss (see RedisEngine). */
  readonly io: <T>(p: Promise<T>) => Promise<T>;
  readonly log: (line: string) => void;
}

/** The counts of {@link TaskTransport}, as the engine reports them. */
export interface TransportCounts {
  readonly bytesOut: number;
  readonly bytesIn: number;
  readonly partitionBytesOut: number;
  readonly directResults: number;
  readonly channelFetches: number;
  /** Of {@link channelFetches}: values pushed to a task's owner before it asked. */
  readonly channelPushes: number;
}

/** The driver's values and results, over the task channel or through Redis. */
export class TaskTransport {
  private bytesOut = 0;
  /** Of {@link bytesOut}: partitions written to Redis (those served over the channel count there). */
  private partitionBytesOut = 0;
  private bytesIn = 0;
  private directResults = 0;
  /** Under a cluster secret, the digest of each value put in Redis and not dropped, by key. */
  private readonly digests = new Map<string, { hex: string; kind: ValueKind }>();

  private constructor(
    private readonly o: TransportOptions,
    private readonly channel: DriverChannel | undefined,
    private readonly channelToken: string | undefined,
  ) {}

  /**
   * Opens the task channel unless it is off or Redis is reached over TLS. It listens on the address
   * this driver reaches Redis from (which the workers reach too), unless told another.
   * @throws DistmlError when the channel's address or port cannot be listened on
   */
  static async open(o: TransportOptions): Promise<TaskTransport> {
    if (o.channel === false || o.url.startsWith('rediss:')) return new TaskTransport(o, undefined, undefined);
    const host = o.channelHost ?? o.redis.stream?.localAddress ?? '127.0.0.1';
    const token = o.secret === undefined ? randomBytes(32).toString('hex') : undefined;
    const channel = await DriverChannel.open(
      host,
      channelKey(o.run, o.secret, token),
      o.log,
      o.channelPort ?? 0,
    ).catch((err: Error) => {
      throw new DistmlError(
        'USAGE',
        `cannot open the task channel on ${host}:${o.channelPort ?? 0}: ${err.message}`,
        'choose another --channel-host or --channel-port, or train with --no-channel',
      );
    });
    return new TaskTransport(o, channel, token);
  }

  /**
   * Calls `arrived` once the whole result of an expected attempt has come over the channel, so the
   * engine may use it at once (after its fence) instead of waiting for the job's completion; and
   * `discarded` for a result of a job no longer expected (a late one, for the fence's log).
   */
  onResult(
    arrived: (jobId: string, attempt: number, facts: RunFacts) => void,
    discarded: (jobId: string) => void,
  ): void {
    if (this.channel === undefined) return;
    this.channel.onResult = arrived;
    this.channel.onDiscarded = discarded;
  }

  /**
   * The task-message fields that tell a worker where the driver's task channel is; or, without
   * the channel and under a cluster secret, the digests of the values a task with arguments
   * `argsKey` may read from Redis: its arguments, the broadcasts, and partitions `partitions` of
   * `placement` (its own, or every one for a loop slot, which reads several).
   */
  messageFields(
    argsKey: string,
    placement: string,
    partitions: readonly number[],
  ): { channel?: string; channelToken?: string; digests?: Record<string, string> } {
    if (this.channel === undefined) {
      if (this.digests.size === 0) return {};
      const digests: Record<string, string> = {};
      const named = (key: string) => {
        const digest = this.digests.get(key);
        if (digest !== undefined) digests[key] = digest.hex;
      };
      named(argsKey);
      for (const p of partitions) named(this.o.keys.partition(this.o.run, placement, p));
      for (const [key, digest] of this.digests) if (digest.kind === 'broadcast') digests[key] = digest.hex;
      return { digests };
    }
    return {
      channel: this.channel.address,
      ...(this.channelToken === undefined ? {} : { channelToken: this.channelToken }),
    };
  }

  /**
   * Puts out the arguments of step `step`. Their tensors are served as they are, without a copy,
   * unless `copy`: a caller awaiting the whole step (a pass) cannot change them meanwhile, one that
   * only submitted a task can.
   */
  async putArgs(step: number, args: KernelArgs, copy = true): Promise<string> {
    const key = this.o.keys.args(this.o.run, step);
    await this.putValues('args', [{ key, pieces: encodeArgs(args, copy) }]);
    return key;
  }

  /**
   * Puts out values for the workers: served from this process's memory over the task channel
   * (counted as they are fetched), or written to Redis when there is no channel. Each value is the
   * concatenation of its pieces.
   */
  async putValues(
    kind: ValueKind,
    values: readonly { key: string; pieces: readonly ArrayBufferView[] }[],
  ): Promise<void> {
    const bytesOf = (v: ArrayBufferView) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    if (this.channel !== undefined) {
      for (const { key, pieces } of values) this.channel.serve(key, pieces.map(bytesOf), kind);
      return;
    }
    const pipeline = this.o.redis.pipeline();
    for (const { key, pieces } of values) {
      const bytes = Buffer.concat(pieces.map(bytesOf));
      // Signed tasks carry the value's digest (value-digest.ts).
      if (this.o.secret !== undefined) this.digests.set(key, { hex: sha256Hex(bytes), kind });
      this.bytesOut += bytes.byteLength;
      if (kind === 'partition') this.partitionBytesOut += bytes.byteLength;
      pipeline.set(key, bytes);
    }
    await this.o.io(pipeline.exec());
  }

  /** Withdraws values put out by {@link putValues}. */
  async dropValues(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    if (this.channel !== undefined) this.channel.withdraw(...keys);
    else {
      for (const key of keys) this.digests.delete(key);
      await this.o.io(this.o.redis.del(...keys));
    }
  }

  /** Pushes value `key` over the channel to worker `worker`, if it is connected (task-channel.ts). */
  push(worker: string, key: string): void {
    this.channel?.push(worker, key);
  }

  /**
   * Accepts result bytes for job `jobId` over the channel, `bytes` long, until {@link forget};
   * `onArriving` hears of them as they arrive.
   */
  expect(jobId: string, bytes: number, onArriving?: ArrivingResult): void {
    this.channel?.expect(jobId, bytes, onArriving);
  }

  /** An array for a pass's sums, from the memory results arrive in (given back by {@link recycle}). */
  allocate(length: number): Float64Array {
    return this.channel?.allocate(length) ?? new Float64Array(length);
  }

  /** Stops accepting results for `jobId` and its requeued copies. */
  forget(jobId: string): void {
    this.channel?.forget(jobId);
  }

  /** Takes back a result nobody uses any more (it was folded into another), for reuse. */
  recycle(result: Float64Array): void {
    this.channel?.recycle(result);
  }

  /**
   * The result `answer` names: the bytes its attempt sent over the task channel, or the value it
   * wrote to Redis (read once, then deleted).
   */
  async resultOf(answer: TaskReturn, jobId: string, what: string, length: number): Promise<Float64Array> {
    if (answer.direct === true) {
      const result = this.channel?.take(answer.jobId ?? jobId, answer.attempt);
      if (result === undefined) {
        throw new TaskFailedError(
          `the result of ${what} did not arrive over the task channel`,
          'the worker reported it sent; check the network between workers and driver',
        );
      }
      this.bytesIn += result.byteLength;
      this.directResults++;
      return result;
    }
    const { redis, io } = this.o;
    const bytes = answer.resultKey === undefined ? null : await io(redis.getBuffer(answer.resultKey));
    if (bytes === null) {
      throw new TaskFailedError(
        `the result of ${what} is missing from Redis`,
        'Redis may have evicted or lost it: run redis-server with maxmemory-policy noeviction',
      );
    }
    await io(redis.del(answer.resultKey!));
    this.bytesIn += bytes.byteLength;
    return decodeFloat64(bytes, `result of task ${jobId}`, length * 8);
  }

  /** Counts bytes that other paths (source tasks) moved through Redis. */
  account(out: number, inn: number): void {
    this.bytesOut += out;
    this.bytesIn += inn;
  }

  counts(): TransportCounts {
    return {
      bytesOut: this.bytesOut + (this.channel?.bytesServed ?? 0),
      bytesIn: this.bytesIn,
      partitionBytesOut: this.partitionBytesOut + (this.channel?.bytesServedByKind.partition ?? 0),
      directResults: this.directResults,
      channelFetches: this.channel?.served ?? 0,
      channelPushes: this.channel?.pushed ?? 0,
    };
  }

  async close(): Promise<void> {
    await this.channel?.close();
  }
}
