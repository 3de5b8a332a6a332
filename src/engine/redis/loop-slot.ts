/**
 * A cluster worker's side of a parameter-server loop: one loop slot. The slot loads its partitions
 * (p mod W = slot: from Redis, or from their source by the lineages its task carries), claims its
 * place (a slot runs once: parameter-server training is not retried, so a slot whose first worker
 * died must not start again elsewhere), keeps a short-lived heartbeat the driver watches, runs the
 * loop kernel on a thread (loop-thread.ts) and serves that thread's parameter-server calls against
 * Redis (redis-parameter-server.ts). A failing slot aborts the whole loop, so the other slots stop
 * at their next call instead of waiting out their timeout.
 */
import { randomBytes } from 'node:crypto';
import { MessageChannel, Worker } from 'node:worker_threads';
import { UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';
import type { DesignMatrix } from '../../data/design-matrix.ts';
import { DistmlError } from '../../errors.ts';
import type { KernelArgs } from '../kernel-registry.ts';
import { workerScript } from '../local/worker-pool.ts';
import type { ClusterKeys } from './cluster-keys.ts';
import { CONTROL_CELLS, type LoopRequest, type LoopThreadInit, SEQ, STATUS } from './loop-thread.ts';
import {
  abortLoop,
  LoopKeys,
  type LoopLayout,
  modeLabel,
  PsSession,
  readLayout,
} from './redis-parameter-server.ts';
import type { MessageLineage, TaskMessage } from './task-message.ts';
import { encodeFloat64 } from './tensor-codec.ts';

/** How often a running slot renews its heartbeat, and how long the heartbeat lives. */
export const SLOT_BEAT_MS = 500;
export const SLOT_BEAT_TTL_MS = 2500;

/** What {@link runLoopSlot} needs from the worker that took the task. */
export interface LoopSlotContext {
  readonly redis: Redis;
  readonly keys: ClusterKeys;
  readonly message: TaskMessage;
  /** The kernel arguments, broadcasts resolved. */
  readonly args: KernelArgs;
  /** This worker's name, for the driver's messages. */
  readonly worker: string;
  readonly attempt: number;
  /** The loop thread's entry module (pipeline/loop-thread-entry); without it loops are refused. */
  readonly entry: URL | undefined;
  /**
   * Partition `index` of the loop's placement: from Redis, or, when the task carries `lineage`
   * (partitions read from a source), from the worker's cache or rebuilt from its source.
   */
  loadPartition(index: number, lineage: MessageLineage | undefined): Promise<DesignMatrix>;
  log(line: string): void;
}

/** What a slot answers, like any task: where its result is, and who ran it. */
export interface LoopSlotReturn {
  readonly resultKey: string;
  readonly runSeconds: number;
  readonly worker: string;
  readonly attempt: number;
}

/**
 * Runs loop slot `message.partition` of the loop of step `message.step`.
 * @throws UnrecoverableError (so BullMQ does not retry) naming the slot and the cause
 */
export async function runLoopSlot(ctx: LoopSlotContext): Promise<LoopSlotReturn> {
  const { redis, message: m } = ctx;
  const slot = m.partition;
  const keys = new LoopKeys(ctx.keys.loop(m.run, m.step));
  let layout: LoopLayout | undefined;
  let beat: NodeJS.Timeout | undefined;
  try {
    layout = await readLayout(redis, keys);
    if (!(slot >= 0 && slot < layout.workers))
      throw new DistmlError('KERNEL', `loop slot ${slot} does not exist (the loop has ${layout.workers})`);
    if (ctx.entry === undefined)
      throw new DistmlError(
        'KERNEL',
        'this worker cannot run parameter-server loops: it was started without a loop thread entry',
        'start workers with `distml worker`',
      );
    // Partitions first, before the claim: a slot counts as started once it can clock, so a slow
    // read (a large partition from its source) runs under the loop's join timeout, not under the
    // other slots' clock timeout; and a process lost while reading leaves the slot unclaimed, free
    // to start where the router queues the task again.
    const parts = await loadOwned(ctx, layout, slot);
    const stopped = await redis.get(keys.abort);
    if (stopped !== null)
      throw new DistmlError('KERNEL', `the loop was stopped before slot ${slot} began: ${stopped}`);
    // The heartbeat first: the driver takes a claimed slot without one for a lost process.
    const renew = () => redis.set(keys.live(slot), ctx.worker, 'PX', SLOT_BEAT_TTL_MS).catch(() => {});
    await renew();
    const claimed = await redis.set(keys.claim(slot), ctx.worker, 'PX', 86_400_000, 'NX');
    if (claimed === null) {
      const first = await redis.get(keys.claim(slot));
      throw new DistmlError(
        'KERNEL',
        `loop slot ${slot} was already started by worker '${first}', which was lost`,
        'parameter-server training is not retried: rerun the fit',
      );
    }
    beat = setInterval(renew, SLOT_BEAT_MS);
    const started = performance.now();
    const out = await serve(ctx, keys, layout, slot, parts);
    const seconds = (performance.now() - started) / 1000;
    clearInterval(beat);
    beat = undefined;
    // The slot is done, not dead: the driver must not take the heartbeat's end for a crash.
    await redis.set(keys.live(slot), 'done', 'PX', 600_000);
    const resultKey = ctx.keys.result(m.run, m.jobId, `${ctx.attempt}-${randomBytes(4).toString('hex')}`);
    await redis.set(resultKey, encodeFloat64(out), 'PX', 600_000);
    return { resultKey, runSeconds: seconds, worker: ctx.worker, attempt: ctx.attempt };
  } catch (err) {
    if (beat !== undefined) clearInterval(beat);
    const reason = `slot ${slot} (worker '${ctx.worker}') failed: ${(err as Error).message}`;
    // The other slots would otherwise wait for this one until their timeout.
    if (layout !== undefined) await abortLoop(redis, keys, reason).catch(() => {});
    ctx.log(`loop ${m.kernel} ${reason}`);
    throw new UnrecoverableError(reason);
  }
}

/**
 * The partitions slot `slot` owns (p mod W = slot), in partition order. On partitions read from a
 * source the task carries one lineage for each of them, in the same order.
 */
async function loadOwned(ctx: LoopSlotContext, layout: LoopLayout, slot: number): Promise<DesignMatrix[]> {
  const owned: number[] = [];
  for (let p = slot; p < layout.partitions; p += layout.workers) owned.push(p);
  const lineages = ctx.message.lineages;
  if (lineages !== undefined && lineages.length !== owned.length)
    throw new DistmlError(
      'KERNEL',
      `loop slot ${slot} owns ${owned.length} partitions, but its task carries ${lineages.length} lineages`,
    );
  const parts: DesignMatrix[] = [];
  for (let i = 0; i < owned.length; i++) parts.push(await ctx.loadPartition(owned[i]!, lineages?.[i]));
  return parts;
}

/** Runs the kernel on a thread and answers its calls until it is done. */
async function serve(
  ctx: LoopSlotContext,
  keys: LoopKeys,
  layout: LoopLayout,
  slot: number,
  parts: readonly DesignMatrix[],
): Promise<Float64Array> {
  const subscriber = ctx.redis.duplicate();
  subscriber.on('error', () => {});
  const session = await PsSession.open(ctx.redis, subscriber, keys, layout, slot);
  const control = new Int32Array(new SharedArrayBuffer(CONTROL_CELLS * 4));
  const data = new Float64Array(new SharedArrayBuffer(layout.size * 8));
  const { port1, port2 } = new MessageChannel();
  const init: LoopThreadInit = {
    kernel: layout.kernel,
    args: ctx.args,
    parts,
    slot,
    size: layout.size,
    resultLength: layout.resultLength,
    async: layout.mode === 'asp',
    control: control.buffer as SharedArrayBuffer,
    data: data.buffer as SharedArrayBuffer,
    errors: port2,
    // The main thread ends every wait itself (the first pull also waits for the other slots to
    // start); this only guards against its loss.
    waitMs: layout.timeoutMs + layout.startTimeoutMs + 60_000,
  };
  const answer = (error?: Error) => {
    if (error !== undefined) port1.postMessage(error.message);
    Atomics.store(control, STATUS, error === undefined ? 0 : 1);
    Atomics.add(control, SEQ, 1);
    Atomics.notify(control, SEQ);
  };
  const [script, how] = workerScript(ctx.entry!);
  const thread = new Worker(script, { ...how, workerData: init, transferList: [port2] });
  const started = performance.now();
  // The loop's own time starts at the kernel's first call, after the thread has started.
  let firstCall: number | undefined;
  ctx.log(
    `loop ${layout.kernel} slot ${slot} of ${layout.workers} started (${modeLabel(layout)}, ` +
      `${parts.length} partitions, ${layout.size} parameters in ${layout.shards} shards)`,
  );
  try {
    const out = await new Promise<Float64Array>((resolve, reject) => {
      // Calls are served one after another, in the order the thread made them; the thread's end
      // (and a crash) queues behind them, so a result is never taken for a crash.
      // The first call waits until every slot has started, so no slot clocks alone.
      const ready = allSlotsStarted(ctx.redis, keys, layout);
      ready.catch(reject);
      let queue = ready;
      const then = (work: () => Promise<void>) => {
        queue = queue.then(work);
        queue.catch(() => {});
      };
      thread.on('message', (request: LoopRequest) =>
        then(async () => {
          firstCall ??= performance.now();
          if (request.op === 'done') {
            await session.flush().then(() => resolve(request.out), reject);
            return;
          }
          if (request.op === 'failed') {
            reject(new DistmlError('KERNEL', request.message));
            return;
          }
          // ASP pushes and clocks are not answered: their failures surface at the next pull.
          const answered = request.op === 'pull' || (request.op === 'clock' && layout.mode !== 'asp');
          try {
            if (request.op === 'pull') await session.pull(data);
            else if (request.op === 'push') session.aspPush(request.delta);
            else if (layout.mode === 'asp') session.aspClock();
            else await session.syncClock(request.delta ?? undefined);
            if (answered) answer();
          } catch (err) {
            if (answered) answer(err as Error);
          }
        }),
      );
      thread.on('error', (err) =>
        then(async () => reject(new DistmlError('KERNEL', `the loop thread crashed: ${err.message}`))),
      );
      thread.on('exit', (code) =>
        then(async () =>
          reject(new DistmlError('KERNEL', `the loop thread exited (code ${code}) before finishing`)),
        ),
      );
    });
    const s = session.stats;
    s.seconds = (performance.now() - (firstCall ?? started)) / 1000;
    const startup = ((firstCall ?? started) - started) / 1000;
    await ctx.redis.set(keys.stats(slot), JSON.stringify(s), 'PX', 600_000);
    const perClock = s.clocks > 0 ? s.clocks : 1;
    ctx.log(
      `loop ${layout.kernel} slot ${slot} done: ${s.clocks} clocks in ${s.seconds.toFixed(2)} s ` +
        `(${((s.seconds * 1000) / perClock).toFixed(2)} ms and ${(s.roundTrips / perClock).toFixed(2)} round trips per clock), ` +
        `${(s.bytesOut / 1e6).toFixed(2)} MB out, ${(s.bytesIn / 1e6).toFixed(2)} MB in, ` +
        `${s.waitSeconds.toFixed(2)} s waiting for other slots, max staleness ${s.stalenessMax}; ${startup.toFixed(2)} s to start the thread`,
    );
    return out;
  } finally {
    await thread.terminate();
    port1.close();
    await session.close();
    subscriber.disconnect();
  }
}

/**
 * Resolves once every slot of the loop has claimed its place; the driver stops a loop whose slots
 * do not all start within its join timeout, which ends this wait through the abort flag.
 * @throws DistmlError when the loop was stopped meanwhile
 */
async function allSlotsStarted(redis: Redis, keys: LoopKeys, layout: LoopLayout): Promise<void> {
  const claims = Array.from({ length: layout.workers }, (_, w) => keys.claim(w));
  // The driver gives up after startTimeoutMs; the margin covers its watch interval. Past that, the
  // driver itself is gone (killed before it could stop the loop).
  const deadline = Date.now() + layout.startTimeoutMs + 10_000;
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    if (Date.now() > deadline)
      throw new DistmlError(
        'KERNEL',
        `parameter-server loop stopped: its slots did not all start within ${Math.round(layout.startTimeoutMs / 1000)} s, and the driver did not stop it`,
      );
    const [abort, ...claimed] = await redis.mget(keys.abort, ...claims);
    if (abort !== null && abort !== undefined)
      throw new DistmlError('KERNEL', `parameter-server loop stopped: ${abort}`);
    if (claimed.every((c) => c !== null)) return;
    await new Promise((r) => setTimeout(r, delay));
  }
}
