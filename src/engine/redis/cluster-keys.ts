/**
 * Every Redis key and queue name the cluster uses, in one place. All keys live under a namespace
 * (`distml` unless a test isolates itself) so that one Redis can serve several clusters.
 */

/** Names of the keys of one namespace. */
export class ClusterKeys {
  constructor(readonly namespace = 'distml') {}
  /** The BullMQ queue every worker consumes; its keys live under {@link namespace} too. */
  readonly taskQueue = 'tasks';
  /**
   * The queue only worker `id` consumes: tasks on the partitions it owns (see placement.ts).
   * BullMQ refuses ':' in queue names, hence the dash.
   */
  workerQueue(id: string): string {
    return `tasks-${id}`;
  }
  /** Set for a minute by a worker that deregisters, so the driver can tell leaving from dying. */
  left(id: string): string {
    return `${this.namespace}:left:${id}`;
  }
  /** Heartbeat of a worker: JSON facts, with a TTL the worker keeps refreshing. */
  worker(id: string): string {
    return `${this.namespace}:worker:${id}`;
  }
  workerPattern(): string {
    return `${this.namespace}:worker:*`;
  }
  /**
   * A partition the driver placed: a binary float64 block [rows, cols, X (rows·cols), y (rows)],
   * or raw rows that a decoder turns into one (../raw-partitions.ts).
   */
  partition(run: string, placement: string, index: number): string {
    return `${this.namespace}:run:${run}:part:${placement}:${index}`;
  }
  /** Binary msgpack of a task's kernel arguments. */
  args(run: string, step: number): string {
    return `${this.namespace}:run:${run}:args:${step}`;
  }
  /** Msgpack spec (preprocessing plan) of partitions workers read from a source. */
  spec(run: string, placement: string): string {
    return `${this.namespace}:run:${run}:spec:${placement}`;
  }
  /** Binary float64 value shared by `broadcast`. */
  broadcast(run: string, id: string): string {
    return `${this.namespace}:run:${run}:bcast:${id}`;
  }
  /** Binary float64 result of one attempt of one task. */
  result(run: string, jobId: string, token: string): string {
    return `${this.namespace}:run:${run}:res:${jobId}:${token}`;
  }
  /** The run a key of {@link partition}, {@link args}, {@link broadcast}… names; undefined for others. */
  runOf(key: string): string | undefined {
    const prefix = `${this.namespace}:run:`;
    if (!key.startsWith(prefix)) return undefined;
    const end = key.indexOf(':', prefix.length);
    return end < 0 ? undefined : key.slice(prefix.length, end);
  }
  /** Exists while a run is alive: its loss means Redis lost the run's data. */
  sentinel(run: string): string {
    return `${this.namespace}:run:${run}:sentinel`;
  }
  /**
   * Prefix of the keys of one parameter-server loop (the shards, clocks and claims of step `step`);
   * see redis-parameter-server.ts for the keys under it.
   */
  loop(run: string, step: number): string {
    return `${this.namespace}:run:${run}:loop:${step}`;
  }
  /** Counter of task messages refused for a bad or missing signature, or as replays. */
  refused(): string {
    return `${this.namespace}:refused`;
  }
  /** Hash of the same refusals counted by reason (`unsigned`, `bad-signature`, `replayed`, …). */
  refusedByReason(): string {
    return `${this.namespace}:refused:by-reason`;
  }
  /** The job that claimed a task message's nonce (see replay-guard.ts); expires. */
  nonce(nonce: string): string {
    return `${this.namespace}:nonce:${nonce}`;
  }
}
