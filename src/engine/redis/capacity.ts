/**
 * Placement by measured capacity, on the driver. Threads deal the first owner map (placement.ts);
 * this file measures how fast each worker really is and says when the map should follow.
 *
 * Speed is kernel time per row: each pass task's worker reports how long its kernel ran, and the
 * driver divides by the partition's rows (the placement's rows over its partitions). A pass's
 * figures are smoothed into a running figure per worker and kernel (kernels differ in cost per
 * row, so one kernel's figures never predict another's). At the boundary of a pass, the predicted
 * pass of the current map (its slowest worker: partitions × seconds per row × rows per partition
 * ÷ threads) is compared with the best map's; when the gain clears the thresholds of
 * {@link RebalanceRule} at `passes` consecutive boundaries, each with a newly measured pass, the
 * fewest partitions needed move (owner-map.ts: rebalanceBySpeed). Moving never changes a result:
 * the driver sums the partitions' results in partition order, whoever computed them.
 */
import { UsageError } from '../../errors.ts';
import type { WorkerInfo } from './membership.ts';
import { REBALANCE_RULE, type RebalanceRule, rebalanceBySpeed, type SpeedPlan } from './owner-map.ts';

/** When and how partitions follow measured speed. */
export interface RebalanceOptions extends RebalanceRule {
  /**
   * Consecutive pass boundaries, each after a newly measured pass, at which moving must pay
   * before partitions move: one slow pass (a pause, a busy neighbour) moves nothing.
   * @defaultValue 2
   */
  readonly passes: number;
  /** Weight of the newest pass in a worker's smoothed figure (a moving average). @defaultValue 0.5 */
  readonly smoothing: number;
  /**
   * Most of a worker's memory ({@link partitionMemory}) that its partitions may take after a
   * move: a worker past it receives none, while another has room. @defaultValue 0.5
   */
  readonly memoryShare: number;
}

/** The defaults of {@link RebalanceOptions}. */
export const REBALANCE: RebalanceOptions = { ...REBALANCE_RULE, passes: 2, smoothing: 0.5, memoryShare: 0.5 };

/** The range each field of {@link RebalanceOptions} must lie in, as [least, most, whole number]. */
const RANGES: Record<keyof RebalanceOptions, readonly [number, number, boolean]> = {
  minGainFraction: [0, 1, false],
  minGainSeconds: [0, Number.POSITIVE_INFINITY, false],
  slackFraction: [0, Number.POSITIVE_INFINITY, false],
  slackSeconds: [0, Number.POSITIVE_INFINITY, false],
  passes: [1, Number.POSITIVE_INFINITY, true],
  smoothing: [Number.MIN_VALUE, 1, false],
  memoryShare: [Number.MIN_VALUE, 1, false],
};

/**
 * The engine option `rebalance` as full options, or undefined when it is `false`.
 * @throws UsageError naming the field and its range when a given field is out of range
 */
export function rebalanceOptions(given: boolean | Partial<RebalanceOptions>): RebalanceOptions | undefined {
  if (given === false) return undefined;
  if (given === true) return REBALANCE;
  for (const [field, value] of Object.entries(given)) {
    const range = RANGES[field as keyof RebalanceOptions];
    if (range === undefined)
      throw new UsageError(`rebalance.${field}: unknown field`, `use ${Object.keys(RANGES).join(', ')}`);
    const [least, most, whole] = range;
    if (
      typeof value !== 'number' ||
      !(value >= least && value <= most) ||
      (whole && !Number.isInteger(value))
    )
      throw new UsageError(
        `rebalance.${field} is ${String(value)}`,
        `give a ${whole ? 'whole number' : 'number'} from ${least === Number.MIN_VALUE ? 'just above 0' : least} to ${most}`,
      );
  }
  return { ...REBALANCE, ...given };
}

/** The shape of a placement, for the cost and the bytes of one of its partitions. */
export interface PlacementShape {
  readonly rows: number;
  readonly cols: number;
  readonly partitions: number;
}

/** A plan that moved partitions, with the figures it was made from (for the log). */
export interface AppliedPlan extends SpeedPlan {
  /** The workers it weighed, in dealing order, and each one's seconds per partition. */
  readonly workers: readonly WorkerInfo[];
  readonly cost: readonly number[];
}

/**
 * Kernel seconds per row of each worker, per kernel, smoothed over passes. A pass enters a worker's
 * figure as the lesser of its own and the worker's previous pass's: a worker looks slower only
 * once two passes in a row say so, so one slow pass (a garbage collection, a busy neighbour, a
 * loaded test machine) never moves partitions. A worker has a figure from its second pass on.
 */
export class SpeedMeter {
  /** kernel → worker id → this pass's sums. */
  private readonly pending = new Map<string, Map<string, { seconds: number; rows: number }>>();
  /** kernel → worker id → its last pass's seconds per row, as measured. */
  private readonly last = new Map<string, Map<string, number>>();
  /** kernel → worker id → smoothed seconds per row. */
  private readonly smoothed = new Map<string, Map<string, number>>();
  private readonly folded = new Map<string, number>();

  constructor(private readonly smoothing: number) {}

  /** A task of `kernel` ran `seconds` of kernel time over `rows` rows on worker `worker` (an id). */
  record(kernel: string, worker: string, seconds: number, rows: number): void {
    if (!(rows > 0) || !Number.isFinite(seconds) || seconds < 0) return;
    let byWorker = this.pending.get(kernel);
    if (byWorker === undefined) {
      byWorker = new Map();
      this.pending.set(kernel, byWorker);
    }
    const sums = byWorker.get(worker) ?? { seconds: 0, rows: 0 };
    byWorker.set(worker, { seconds: sums.seconds + seconds, rows: sums.rows + rows });
  }

  /** A pass of `kernel` is over: its figures join the smoothed ones. */
  endPass(kernel: string): void {
    const byWorker = this.pending.get(kernel);
    if (byWorker === undefined) return;
    this.pending.delete(kernel);
    const figures = mapOf(this.smoothed, kernel);
    const lastPass = mapOf(this.last, kernel);
    for (const [worker, { seconds, rows }] of byWorker) {
      const measured = seconds / rows;
      const before = lastPass.get(worker);
      lastPass.set(worker, measured);
      if (before === undefined) continue;
      const now = Math.min(measured, before);
      const was = figures.get(worker);
      figures.set(worker, was === undefined ? now : this.smoothing * now + (1 - this.smoothing) * was);
    }
    this.folded.set(kernel, (this.folded.get(kernel) ?? 0) + 1);
  }

  /** Worker `worker`'s smoothed seconds per row on `kernel`, if it ran any. */
  secondsPerRow(kernel: string, worker: string): number | undefined {
    return this.smoothed.get(kernel)?.get(worker);
  }

  /** Passes of `kernel` measured so far. */
  passesOf(kernel: string): number {
    return this.folded.get(kernel) ?? 0;
  }
}

function mapOf<V>(maps: Map<string, Map<string, V>>, key: string): Map<string, V> {
  let map = maps.get(key);
  if (map === undefined) {
    map = new Map();
    maps.set(key, map);
  }
  return map;
}

/** Decides, at pass boundaries, whether partitions move to match the measured speeds. */
export class CapacityPlanner {
  readonly meter: SpeedMeter;
  /** By placement and kernel: the measured passes seen at the last boundary, and the run of gains. */
  private readonly evidence = new Map<string, { seen: number; streak: number }>();

  constructor(readonly rule: RebalanceOptions) {
    this.meter = new SpeedMeter(rule.smoothing);
  }

  /**
   * The boundary of a pass of `kernel` over a placement: returns the moves to make (already
   * applied to `owners`), or undefined when nothing moves. Only workers measured on `kernel`
   * weigh in; a worker that owns partitions but has no figure yet defers the decision.
   */
  decide(
    placement: string,
    kernel: string,
    owners: (string | undefined)[],
    busy: readonly number[],
    live: readonly WorkerInfo[],
    shape: PlacementShape,
  ): AppliedPlan | undefined {
    const key = `${placement} ${kernel}`;
    const passes = this.meter.passesOf(kernel);
    const ev = this.evidence.get(key) ?? { seen: 0, streak: 0 };
    this.evidence.set(key, ev);
    if (passes === ev.seen) return undefined;
    ev.seen = passes;
    const owning = new Set(owners);
    const workers = live.filter(
      (w) => owning.has(w.id) || this.meter.secondsPerRow(kernel, w.id) !== undefined,
    );
    const perRow = workers.map((w) => this.meter.secondsPerRow(kernel, w.id));
    const ids = new Set(workers.map((w) => w.id));
    if (perRow.some((s) => s === undefined) || owners.some((id) => id === undefined || !ids.has(id))) {
      ev.streak = 0;
      return undefined;
    }
    const rowsPer = shape.rows / Math.max(1, shape.partitions);
    // A kernel that takes no measurable time still costs something, so that costs stay positive.
    const cost = workers.map((w, i) => Math.max(1e-9, (perRow[i]! * rowsPer) / capacity(w)));
    const bytesPer = 8 * rowsPer * (shape.cols + 1);
    const limit = workers.map((w) => {
      const memory = partitionMemory(w, live);
      return memory !== undefined && bytesPer > 0
        ? Math.floor((this.rule.memoryShare * memory) / bytesPer)
        : Number.POSITIVE_INFINITY;
    });
    const trial = [...owners];
    const plan = rebalanceBySpeed(
      trial,
      workers.map((w) => w.id),
      cost,
      busy,
      this.rule,
      limit,
    );
    if (plan.moves.length === 0) {
      ev.streak = 0;
      return undefined;
    }
    if (++ev.streak < this.rule.passes) return undefined;
    ev.streak = 0;
    for (let p = 0; p < owners.length; p++) owners[p] = trial[p];
    return { ...plan, workers, cost };
  }
}

/**
 * The memory `w`'s partitions may take (before {@link RebalanceOptions.memoryShare}): what they
 * hold now plus the worker's part of its machine's available memory, which the live workers on
 * the same host share equally, as they draw on the same memory. A heartbeat without these figures
 * (a worker of an older version) gives the machine's total memory, shared the same way. Workers of
 * other namespaces, and other programs started later, are not seen. Undefined when the heartbeat
 * says nothing usable: no limit then.
 */
export function partitionMemory(w: WorkerInfo, live: readonly WorkerInfo[]): number | undefined {
  const sharing = Math.max(1, live.filter((o) => o.host === w.host).length);
  const free = w.freeBytes;
  if (free === undefined || !Number.isFinite(free) || free < 0)
    return Number.isFinite(w.memoryBytes) && w.memoryBytes > 0 ? w.memoryBytes / sharing : undefined;
  const held = w.heldBytes;
  return (held !== undefined && Number.isFinite(held) && held > 0 ? held : 0) + free / sharing;
}

/**
 * The weight of a worker in the first deal of placement: the threads it runs tasks on (1 for a
 * heartbeat that does not say, or says something that is not a whole number ≥ 1).
 */
export function capacity(w: WorkerInfo): number {
  return Number.isSafeInteger(w.threads) && w.threads >= 1 ? w.threads : 1;
}

/** A worker that could take a speculative copy, and the tasks it has queued or running now. */
export interface CopyCandidate {
  readonly outstanding: number;
  readonly threads: number;
}

/**
 * Which candidate takes a speculative copy: the one with the least outstanding work per thread;
 * among ties, the `turn`-th (mod their count), so that copies made one after another rotate over
 * equally idle workers rather than all landing on the first. Undefined when there is none.
 */
export function pickCopyWorker(candidates: readonly CopyCandidate[], turn: number): number | undefined {
  let least = Number.POSITIVE_INFINITY;
  for (const c of candidates) least = Math.min(least, c.outstanding / Math.max(1, c.threads));
  const ties: number[] = [];
  candidates.forEach((c, i) => {
    if (c.outstanding / Math.max(1, c.threads) === least) ties.push(i);
  });
  return ties.length === 0 ? undefined : ties[turn % ties.length];
}
