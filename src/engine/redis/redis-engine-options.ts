/**
 * The options and the telemetry of the cluster engine (redis-engine.ts).
 */
import type { EngineTelemetry } from '../engine.ts';
import type { Speculation } from '../stragglers.ts';
import type { RebalanceOptions } from './capacity.ts';
import type { ClusterConnection } from './cluster-connection.ts';
import type { LoopTelemetry } from './loop-runner.ts';
import type { PlacementTelemetry } from './placement.ts';

/** Options of `RedisEngine.connect` (redis-engine.ts). */
export interface RedisEngineOptions extends ClusterConnection {
  /** Key prefix shared with the workers. @defaultValue `'distml'` */
  readonly namespace?: string;
  /** Cluster secret with which task messages are signed; workers must hold the same one. */
  readonly secret?: Buffer;
  /** Workers to wait for before training. @defaultValue 1 */
  readonly minWorkers?: number;
  /** How long to wait for them. @defaultValue 60000 */
  readonly joinTimeoutMs?: number;
  /** Longest a task may take, retries included. @defaultValue 600000 */
  readonly taskTimeoutMs?: number;
  /** Attempts per task before the fit fails. @defaultValue 3 */
  readonly attempts?: number;
  /**
   * How long Redis may stay unreachable during a fit before the fit stops. ioredis reconnects with
   * backoff meanwhile. @defaultValue 30000
   */
  readonly unreachableMs?: number;
  /** Where the engine reports what it waits for. */
  readonly log?: (line: string) => void;
  /**
   * Whether the driver opens its task channel (task-channel.ts): workers then fetch partitions,
   * arguments and broadcasts from the driver's memory and send results straight back, over TCP,
   * rather than through Redis. Never over `rediss://`, whose TLS the channel does not have.
   * @defaultValue true
   */
  readonly channel?: boolean;
  /**
   * Address the driver's task channel listens on, which every worker must reach.
   * @defaultValue the driver's own address on its connection to Redis
   */
  readonly channelHost?: string;
  /** Port of the task channel, for firewalls that open one. @defaultValue a free port */
  readonly channelPort?: number;
  /**
   * Speculative copies of stragglers: a pass's task that has run `multiplier` times the median of
   * the pass's finished tasks, and at least `minMs`, gets a copy on another worker (which must load
   * the partition, so a copy can cost a transfer of it). Off by default, as in Spark; `true` means
   * `{ multiplier: 3, minMs: 1000 }`. @defaultValue false
   */
  readonly speculation?: boolean | Partial<Speculation>;
  /**
   * Placement by measured speed (capacity.ts): at a pass boundary, when the workers' measured
   * kernel time per row says a map with partitions moved would shorten the predicted pass by at
   * least 25 % and 50 ms, at two consecutive passes, the fewest partitions needed move. Results do
   * not change (partitions are summed in partition order). `false` keeps the map dealt by threads;
   * an object changes the thresholds. @defaultValue true
   */
  readonly rebalance?: boolean | Partial<RebalanceOptions>;
}

/** Telemetry of the cluster engine. */
export interface RedisTelemetry extends EngineTelemetry, PlacementTelemetry {
  readonly kind: 'redis';
  /** Redis URL with the password redacted. */
  readonly cluster: string;
  /** Tasks that needed more than one attempt. */
  readonly retries: number;
  /** Tasks run, by worker name. */
  readonly tasksByWorker: Readonly<Record<string, number>>;
  /** Tasks run, by worker name and thread: `NAME#T` (T from 0; see `distml worker --threads`). */
  readonly tasksByThread: Readonly<Record<string, number>>;
  /**
   * Bytes of partitions, arguments and broadcasts the driver sent (over its task channel, or
   * written to Redis), and of results it read.
   */
  readonly bytesOut: number;
  readonly bytesIn: number;
  /** Task results that came straight from the workers over the task channel. */
  readonly directResults: number;
  /** Of {@link bytesOut}: the partitions the driver placed (none when workers read a source). */
  readonly partitionBytesOut: number;
  /** Values (partitions, arguments, broadcasts) the workers fetched from the driver's channel. */
  readonly channelFetches: number;
  /** Of {@link channelFetches}: a pass's arguments pushed to a task's owner before it asked. */
  readonly channelPushes: number;
  /** Speculative copies queued for straggling pass tasks, and how many of them answered first. */
  readonly speculativeCopies: number;
  readonly speculativeWins: number;
  /** Parameter-server loops (SGD models), when any ran: clocks, round trips, bytes, waits. */
  readonly parameterServer?: LoopTelemetry;
}
