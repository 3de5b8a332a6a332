/**
 * Locality and elasticity of the cluster engine, on the driver.
 *
 * Every placement has an owner map (partition → live worker), dealt over the workers sorted by
 * name (then id) in proportion to their threads (owner-map.ts), so it is balanced by capacity and a
 * pure function of the membership. A task is
 * queued on its owner's own queue (`NS:tasks-<worker id>`, which only that worker consumes), so a
 * worker loads each of its partitions once and keeps it; the shared queue `NS:tasks` serves tasks
 * with no owner (no worker alive when they were queued), for whichever worker comes.
 *
 * Membership is polled from the heartbeat keys. Any change bumps the epoch. When an owner is gone
 * (heartbeat expired, or deregistered on SIGTERM), only its partitions are given to the live
 * workers furthest below their share, and the engine re-queues its outstanding tasks there under
 * new job ids; the new owners rebuild those partitions from lineage or load them from Redis. The job a
 * presumed-dead worker may still finish is superseded: its result is discarded and logged
 * (the fence). A worker that joins receives partitions at the next pass boundary: the fewest moves
 * that leave every worker within one partition of its share. At pass boundaries, too, partitions
 * may move off workers measured slow (capacity.ts decides; {@link TaskRouter.rebalance} applies).
 */
import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { type CapacityPlanner, capacity, type PlacementShape, pickCopyWorker } from './capacity.ts';
import type { redisOptions } from './cluster-connection.ts';
import type { ClusterKeys } from './cluster-keys.ts';
import { liveWorkers, type WorkerInfo } from './membership.ts';
import { balance, deal, type Move, replaceGone } from './owner-map.ts';

/** A job event of a worker's own queue, forwarded to the engine. */
export type LaneEvent =
  | { readonly kind: 'completed'; readonly jobId: string; readonly returnvalue: unknown }
  | { readonly kind: 'failed'; readonly jobId: string; readonly failedReason: string };

/** What {@link TaskRouter} needs. */
export interface RouterOptions {
  /** The engine's command connection; the per-worker queues share it. */
  readonly redis: Redis;
  readonly keys: ClusterKeys;
  /** Options for the event readers (blocking reads need connections of their own). */
  readonly connection: ReturnType<typeof redisOptions>;
  /** The workers alive when the engine connected. */
  readonly members: readonly WorkerInfo[];
  readonly log: (line: string) => void;
  readonly onEvent: (event: LaneEvent) => void;
  /** How often membership is polled. @defaultValue 1000 */
  readonly pollMs?: number;
}

/** Where one task goes: its owner's queue, or the shared queue when no worker is alive. */
export interface Route {
  readonly worker?: WorkerInfo;
  readonly queue?: Queue;
  readonly epoch: number;
}

/** How the engine queues one copy of a task and waits for its result. */
export interface Dispatcher<T> {
  /** Starts waiting for job `jobId` (before it is added, so a quick completion is not missed). */
  wait(jobId: string): { readonly promise: Promise<T>; cancel(): void };
  /** Adds job `jobId` to `queue` of worker `worker`, or to the shared queue when undefined. */
  add(queue: Queue | undefined, jobId: string, worker?: string): Promise<void>;
}

/** What a wait on a task yields when its worker is presumed dead first. */
const GONE = Symbol('gone');

/** Why partitions moved. */
export type MoveReason = 'ownerGone' | 'joined' | 'rebalanced';

/** Counters of locality and elasticity, merged into the engine's telemetry. */
export interface PlacementTelemetry {
  /** Membership epoch: bumped by every join, leave or expired heartbeat seen during the run. */
  readonly epoch: number;
  /** Partitions given to another worker, for any reason (the sum of {@link movesByReason}). */
  readonly partitionsMoved: number;
  /**
   * Of {@link partitionsMoved}: because their owner was gone (`ownerGone`), to balance after a
   * worker joined (`joined`), or to match the workers' measured speeds (`rebalanced`).
   */
  readonly movesByReason: Readonly<Record<MoveReason, number>>;
  /** Tasks queued again on a new owner because theirs was gone. */
  readonly tasksRequeued: number;
  /** Results of superseded tasks (from a worker presumed dead) that arrived and were discarded. */
  readonly lateResultsDiscarded: number;
  /** Partitions each worker owns in the latest placement (as it stood when it was released). */
  readonly partitionsByWorker: Readonly<Record<string, number>>;
}

interface OwnerMap {
  /** Worker id per partition; undefined while no worker is alive to own it. */
  readonly owners: (string | undefined)[];
  /** Tasks in flight per partition: a busy partition is not moved by balancing. */
  readonly busy: number[];
  /** The epoch this map was last balanced at. */
  balancedAt: number;
  /** Created by a task rather than a placement (profile passes); dropped by forgetTransient. */
  readonly transient: boolean;
}

interface Lane {
  readonly queue: Queue;
  readonly events: QueueEvents;
}

interface Superseded {
  readonly worker: string;
  readonly epoch: number;
  readonly what: string;
}

/** Owner maps, membership epochs, per-worker queues and the fence of late results. */
export class TaskRouter {
  private epoch = 1;
  private readonly members = new Map<string, WorkerInfo>();
  private readonly maps = new Map<string, OwnerMap>();
  private readonly lanes = new Map<string, Promise<Lane>>();
  /** Callbacks of the tasks waiting on each worker, called when it is gone. */
  private readonly gone = new Map<string, Set<() => void>>();
  private readonly superseded = new Map<string, Superseded>();
  private latest: OwnerMap | undefined;
  private readonly moved: Record<MoveReason, number> = { ownerGone: 0, joined: 0, rebalanced: 0 };
  /** Tasks queued on each worker (by id) and not over yet, speculative copies included. */
  private readonly outstanding = new Map<string, number>();
  /** Turns of {@link copyRoute}, so that copies rotate over equally idle workers. */
  private copies = 0;
  private requeued = 0;
  private late = 0;
  private readonly timer: NodeJS.Timeout;
  private polling = false;

  constructor(private readonly o: RouterOptions) {
    for (const w of o.members) this.members.set(w.id, w);
    o.log(
      `membership epoch 1: ${
        this.sorted()
          .map((w) => w.name)
          .join(', ') || 'no workers'
      }`,
    );
    this.timer = setInterval(() => void this.poll(), o.pollMs ?? 1000);
    this.timer.unref();
  }

  /** Deals the partitions of a new placement over the live workers. */
  place(placement: string, partitions: number): void {
    this.mapOf(placement, partitions, false);
  }

  /**
   * A pass over `placement` starts: if the membership changed since the map was last balanced,
   * moves the fewest partitions that leave every live worker within one of the others.
   */
  boundary(placement: string): void {
    const map = this.maps.get(placement);
    if (map !== undefined && map.balancedAt < this.epoch) this.balance(placement, map);
  }

  /**
   * Queues a task on the owner of partition `p` of `placement` and waits for its result. If the
   * owner is presumed dead first, the job is superseded (its result will be fenced off), removed
   * if still waiting, and the task queued again on the partition's new owner as `BASE-rN`.
   * @param what - the task, for the log line of a discarded late result
   */
  async dispatch<T>(base: string, placement: string, p: number, what: string, d: Dispatcher<T>): Promise<T> {
    for (let copy = 0; ; copy++) {
      const route = await this.route(placement, p);
      try {
        const jobId = copy === 0 ? base : `${base}-r${copy}`;
        const finished = d.wait(jobId);
        try {
          await d.add(route.queue, jobId, route.worker?.id);
        } catch (err) {
          finished.cancel();
          throw err;
        }
        const owner = route.worker;
        if (owner === undefined) return await finished.promise;
        const release = this.occupy(owner.id);
        let stop = () => {};
        const gone = new Promise<typeof GONE>((resolve) => {
          stop = this.onGone(owner.id, () => resolve(GONE));
        });
        // The callback is dropped once the task ends, so a long fit does not pile them up.
        const outcome = await Promise.race([finished.promise, gone]).finally(() => {
          stop();
          release();
        });
        if (outcome !== GONE) return outcome;
        this.supersede(jobId, owner, what);
        finished.cancel();
        // A job still waiting on the dead worker's queue is removed; one it holds stays locked.
        await route.queue!.remove(jobId).catch(() => 0);
      } finally {
        this.done(placement, p);
      }
    }
  }

  /**
   * Where a speculative copy of a task on partition `p` of `placement` goes: the live worker, other
   * than the partition's owner, with the least outstanding work per thread (tasks queued on it and
   * not over), rotating among ties (pickCopyWorker), so that the copies of one slow worker's tasks
   * spread over the others. Undefined when there is no other worker. Call `release` once the copy
   * is over.
   */
  async copyRoute(
    placement: string,
    p: number,
  ): Promise<{ worker: WorkerInfo; queue: Queue; release: () => void } | undefined> {
    const map = this.maps.get(placement);
    if (map === undefined) return undefined;
    const others = this.sorted().filter((w) => w.id !== map.owners[p]);
    const pick = pickCopyWorker(
      others.map((w) => ({ outstanding: this.outstanding.get(w.id) ?? 0, threads: capacity(w) })),
      this.copies++,
    );
    if (pick === undefined) return undefined;
    const worker = others[pick]!;
    const release = this.occupy(worker.id);
    try {
      return { worker, queue: (await this.lane(worker.id)).queue, release };
    } catch (err) {
      release();
      throw err;
    }
  }

  /** Counts a task queued on `workerId` until the returned function is called (once). */
  private occupy(workerId: string): () => void {
    this.outstanding.set(workerId, (this.outstanding.get(workerId) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const n = (this.outstanding.get(workerId) ?? 1) - 1;
      if (n > 0) this.outstanding.set(workerId, n);
      else this.outstanding.delete(workerId);
    };
  }

  /**
   * A pass of `kernel` over `placement` starts (after {@link boundary}): moves partitions to match
   * the workers' measured speeds when `planner` finds it pays (capacity.ts), and logs the move,
   * naming the workers.
   */
  rebalance(placement: string, kernel: string, planner: CapacityPlanner, shape: PlacementShape): void {
    const map = this.maps.get(placement);
    if (map === undefined) return;
    const live = this.sorted();
    const plan = planner.decide(placement, kernel, map.owners, map.busy, live, shape);
    if (plan === undefined) return;
    this.moved.rebalanced += plan.moves.length;
    const figures = plan.workers.map((w, i) => `${w.name} ${ms(plan.cost[i]!)}`);
    const counts = live.map((w) => `${w.name} ${map.owners.filter((id) => id === w.id).length}`);
    this.o.log(
      `moved ${plan.moves.length} partition(s) of ${placement} by measured speed (${this.describe(plan.moves)}; ` +
        `${kernel} per partition: ${figures.join(', ')}; predicted pass ${ms(plan.before)} → ${ms(plan.after)}; ` +
        `now ${counts.join(', ')})`,
    );
  }

  /** The queue for a task on partition `p` of `placement`; marks the partition busy. */
  private async route(placement: string, p: number): Promise<Route> {
    const map = this.mapOf(placement, p + 1, true);
    map.busy[p] = (map.busy[p] ?? 0) + 1;
    const id = map.owners[p];
    const worker = id === undefined ? undefined : this.members.get(id);
    if (worker === undefined) return { epoch: this.epoch };
    try {
      return { worker, queue: (await this.lane(worker.id)).queue, epoch: this.epoch };
    } catch (err) {
      this.done(placement, p);
      throw err;
    }
  }

  /** The task on partition `p` of `placement` routed by {@link route} is over. */
  private done(placement: string, p: number): void {
    const map = this.maps.get(placement);
    if (map !== undefined && (map.busy[p] ?? 0) > 0) map.busy[p]!--;
  }

  /**
   * Calls `f` when `workerId` is no longer a member (at once if it is not one now); returns the
   * function that cancels the call.
   */
  private onGone(workerId: string, f: () => void): () => void {
    if (!this.members.has(workerId)) {
      f();
      return () => {};
    }
    let waiting = this.gone.get(workerId);
    if (waiting === undefined) {
      waiting = new Set();
      this.gone.set(workerId, waiting);
    }
    waiting.add(f);
    return () => waiting.delete(f);
  }

  /** Job `jobId` was given to `worker`, now presumed dead: any result of it will be discarded. */
  private supersede(jobId: string, worker: WorkerInfo, what: string): void {
    this.requeued++;
    this.superseded.set(jobId, { worker: worker.name, epoch: this.epoch, what });
  }

  /**
   * The fence: true when `jobId`'s result must be discarded (its worker was presumed dead and the
   * task queued again elsewhere); logs and counts it.
   */
  fenced(jobId: string): boolean {
    const s = this.superseded.get(jobId);
    if (s === undefined) return false;
    this.superseded.delete(jobId);
    this.late++;
    this.o.log(
      `late result discarded: task ${jobId} (${s.what}) finished on worker ${s.worker}, presumed dead at epoch ${s.epoch}; its new owner's result counts`,
    );
    return true;
  }

  /** Drops the owner map of a released placement. */
  forget(placement: string): void {
    this.maps.delete(placement);
  }

  /** Drops the maps that tasks created for themselves (profile passes) once they are idle. */
  forgetTransient(): void {
    for (const [id, map] of this.maps)
      if (map.transient && map.busy.every((b) => b === 0)) this.maps.delete(id);
  }

  telemetry(): PlacementTelemetry {
    const byWorker: Record<string, number> = {};
    for (const id of this.latest?.owners ?? []) {
      const name = id === undefined ? '(none)' : (this.members.get(id)?.name ?? id);
      byWorker[name] = (byWorker[name] ?? 0) + 1;
    }
    return {
      epoch: this.epoch,
      partitionsMoved: this.moved.ownerGone + this.moved.joined + this.moved.rebalanced,
      movesByReason: { ...this.moved },
      tasksRequeued: this.requeued,
      lateResultsDiscarded: this.late,
      partitionsByWorker: byWorker,
    };
  }

  /** Stops polling and closes the per-worker queues and their event readers. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const [id, lane] of this.lanes) {
      const l = await lane.catch(() => undefined);
      if (l === undefined) continue;
      await l.events.close();
      // The queue of a worker that died would keep its jobs forever: nobody else consumes it.
      if (!this.members.has(id)) await l.queue.obliterate({ force: true }).catch(() => {});
      await l.queue.close();
    }
  }

  /**
   * Drops every connection at once, without waiting for Redis: for a run that is lost (Redis gone
   * or flushed), where a graceful close would wait for it forever.
   */
  disconnect(): void {
    clearInterval(this.timer);
    for (const lane of this.lanes.values()) {
      void lane
        .then((l) => {
          // close(), not only disconnect(): a disconnected QueueEvents retries every 5 s forever.
          void l.events.close().catch(() => {});
          void l.queue.close().catch(() => {});
        })
        .catch(() => {});
    }
  }

  /** The live workers in dealing order: by name, then id, so a membership gives one map. */
  private sorted(): WorkerInfo[] {
    return [...this.members.values()].sort((a, b) =>
      a.name === b.name ? a.id.localeCompare(b.id) : a.name < b.name ? -1 : 1,
    );
  }

  private mapOf(placement: string, partitions: number, transient: boolean): OwnerMap {
    let map = this.maps.get(placement);
    if (map === undefined) {
      map = { owners: [], busy: [], balancedAt: this.epoch, transient };
      this.maps.set(placement, map);
      if (!transient) this.latest = map;
    }
    // Round-robin by position, so a map that grows (a profile pass queues its tasks one by one)
    // deals the same owners as one dealt at once.
    const live = this.sorted();
    deal(
      map.owners,
      live.map((w) => w.id),
      partitions,
      live.map(capacity),
    );
    while (map.busy.length < map.owners.length) map.busy.push(0);
    return map;
  }

  /** The queue (and its event reader) of `workerId`, created on first use. */
  private lane(workerId: string): Promise<Lane> {
    let lane = this.lanes.get(workerId);
    if (lane === undefined) {
      lane = this.openLane(workerId);
      this.lanes.set(workerId, lane);
      lane.catch(() => this.lanes.delete(workerId));
    }
    return lane;
  }

  private async openLane(workerId: string): Promise<Lane> {
    const { keys, redis, connection } = this.o;
    const name = keys.workerQueue(workerId);
    const queue = new Queue(name, { connection: redis, prefix: keys.namespace });
    // Read events from the stream's current end, fixed before any job is added: an event reader
    // that starts at '$' could miss a completion that lands before its first read.
    const last = await redis.xrevrange(queue.keys.events!, '+', '-', 'COUNT', 1);
    const events = new QueueEvents(name, {
      connection,
      prefix: keys.namespace,
      lastEventId: last[0]?.[0] ?? '0-0',
    });
    // Connection errors re-emitted by BullMQ: logged, not printed as stack traces.
    queue.on('error', (err) => this.o.log(`queue of worker ${workerId}: ${err.message}`));
    events.on('error', (err) => this.o.log(`queue events of worker ${workerId}: ${err.message}`));
    events.on('completed', ({ jobId, returnvalue }) =>
      this.o.onEvent({ kind: 'completed', jobId, returnvalue }),
    );
    events.on('failed', ({ jobId, failedReason }) => this.o.onEvent({ kind: 'failed', jobId, failedReason }));
    await events.waitUntilReady();
    return { queue, events };
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const live = await liveWorkers(this.o.redis, this.o.keys);
      const now = new Map(live.map((w) => [w.id, w]));
      const left = [...this.members.values()].filter((w) => !now.has(w.id));
      const joined = live.filter((w) => !this.members.has(w.id));
      // Members still here renew their figures (free and held memory) with every heartbeat.
      for (const w of live) if (this.members.has(w.id)) this.members.set(w.id, w);
      if (left.length === 0 && joined.length === 0) return;
      this.epoch++;
      for (const w of left) {
        const deregistered = (await this.o.redis.exists(this.o.keys.left(w.id))) === 1;
        this.o.log(
          `membership epoch ${this.epoch}: worker ${w.name} ${deregistered ? 'left' : 'presumed dead (heartbeat expired)'}`,
        );
        this.members.delete(w.id);
      }
      for (const w of joined) {
        this.o.log(`membership epoch ${this.epoch}: worker ${w.name} joined`);
        this.members.set(w.id, w);
      }
      for (const [id, map] of this.maps) this.replaceGone(id, map);
      // Only now, with every map pointing at live workers, may waiting tasks be queued again.
      for (const w of left) {
        for (const f of this.gone.get(w.id) ?? []) f();
        this.gone.delete(w.id);
      }
    } catch {
      // Redis did not answer: the engine's own watch reports that; membership is polled again.
    } finally {
      this.polling = false;
    }
  }

  /** Gives the partitions of gone (or no) owners to the live workers furthest below their share. */
  private replaceGone(placement: string, map: OwnerMap): void {
    const live = this.sorted();
    const moves = replaceGone(
      map.owners,
      live.map((w) => w.id),
      live.map(capacity),
    );
    this.moved.ownerGone += moves.filter((m) => m.from !== undefined).length;
    if (moves.length > 0)
      this.o.log(`epoch ${this.epoch}: partitions of ${placement} re-placed: ${this.describe(moves)}`);
  }

  /** Balances `map` over the live workers (see {@link balance}) and logs the moves. */
  private balance(placement: string, map: OwnerMap): void {
    const live = this.sorted();
    const { moves, complete } = balance(
      map.owners,
      live.map((w) => w.id),
      map.busy,
      live.map(capacity),
    );
    this.moved.joined += moves.filter((m) => m.from !== undefined).length;
    if (complete) map.balancedAt = this.epoch;
    if (moves.length > 0) {
      const counts = live.map((w) => `${w.name} ${map.owners.filter((id) => id === w.id).length}`);
      this.o.log(
        `epoch ${this.epoch}: moved ${moves.length} partition(s) of ${placement} to balance (${this.describe(moves)}; now ${counts.join(', ')})`,
      );
    }
  }

  private describe(moves: readonly Move[]): string {
    return moves.map((m) => `${m.partition} → ${this.members.get(m.to)?.name ?? m.to}`).join(', ');
  }
}

/** Seconds as milliseconds for a log line: 3 significant digits below 10 ms. */
function ms(seconds: number): string {
  const v = seconds * 1000;
  return `${v < 10 ? v.toPrecision(3) : Math.round(v)} ms`;
}
