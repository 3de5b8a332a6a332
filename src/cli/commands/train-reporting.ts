/**
 * What `distml train` says about a fit while and after it runs: the progress line's engine status,
 * the end-of-fit summary of what the engine did, and the checkpoints of `--checkpoint-dir`. Shared
 * by the fit of a file the driver reads and the fit of `--shared-data`.
 */
import { CheckpointStore } from '../../engine/checkpoint.ts';
import type { Engine } from '../../engine/engine.ts';
import type { LocalTelemetry } from '../../engine/local/local-engine.ts';
import type { RedisTelemetry } from '../../engine/redis/redis-engine.ts';
import { UsageError } from '../../errors.ts';
import type { Checkpointer } from '../../models/estimator.ts';
import type { TrainedModel } from '../../pipeline/trained-model.ts';
import type { Progress } from '../progress.ts';
import { RUN_MISMATCH_HINT } from '../run-identity.ts';

/** Ends the fit's progress line, prints its warnings and the engine's summary; returns the telemetry. */
export function reportFit(progress: Progress, info: TrainedModel['meta']['fit'], engine: Engine) {
  progress.done(
    info.iterations === undefined
      ? 'done'
      : `${info.iterations} iteration(s)${info.converged ? ', converged' : ''}`,
  );
  for (const w of info.warnings ?? []) progress.warn(w);
  if (info.resumedFrom !== undefined)
    progress.note(`resumed from the checkpoint of iteration ${info.resumedFrom}`);
  const telemetry = engine.telemetry();
  progress.note(`engine: ${engineSummary(telemetry)}`);
  return telemetry;
}

/** A short live summary of the engine for the progress line. */
export function engineStatus(engine: Engine): string {
  const t = engine.telemetry();
  if (t.kind === 'inline' || t.inlineReason !== undefined) return '';
  return `workers=${t.workers} tasks=${t.tasks}${t.retries ? ` retries=${t.retries}` : ''}`;
}

/** The checkpoint options of `train`. */
export interface CheckpointOptions {
  checkpointDir?: string;
  checkpointEvery: number;
  resume?: boolean;
}

/**
 * The checkpoints of `--checkpoint-dir DIR --checkpoint-every N [--resume]` for run `runId`, or
 * undefined without a directory.
 * @throws UsageError for --resume without --checkpoint-dir
 */
export function checkpointer(
  opts: CheckpointOptions,
  runId: string,
  progress: Progress,
): Checkpointer | undefined {
  if (opts.checkpointDir === undefined) {
    if (opts.resume === true) {
      throw new UsageError(
        '--resume needs --checkpoint-dir',
        'name the directory the earlier run saved its checkpoints in',
      );
    }
    return undefined;
  }
  const store = new CheckpointStore(opts.checkpointDir, {
    runId,
    mismatchHint: RUN_MISMATCH_HINT,
    onWarning: (m) => progress.warn(m),
  });
  const resume = opts.resume === true;
  return {
    every: opts.checkpointEvery,
    restore: async () => (resume ? store.latest() : undefined),
    save: (step, tensors) => store.save({ step, tensors, meta: {} }),
  };
}

/** One line about what the engine did, for the end of a run. */
function engineSummary(t: ReturnType<Engine['telemetry']>): string {
  if (t.inlineReason !== undefined) return t.inlineReason;
  if (t.kind === 'inline') return `serial, ${t.tasks} tasks in ${t.passes} passes`;
  if (t.kind === 'redis') {
    const r = t as RedisTelemetry;
    const spread = Object.entries(r.tasksByWorker)
      .map(([name, n]) => `${name}: ${n}`)
      .join(', ');
    const ps = r.parameterServer;
    const loops =
      ps === undefined || ps.clocks === 0
        ? ''
        : `, ${ps.loops} parameter-server loop(s): ${ps.clocks} clocks, ${((1000 * ps.slotSeconds) / ps.clocks).toFixed(2)} ms and ${(ps.roundTrips / ps.clocks).toFixed(1)} Redis round trips per clock`;
    const moves = [
      r.epoch > 1 ? `membership epoch ${r.epoch}` : '',
      r.partitionsMoved
        ? `${r.partitionsMoved} partitions moved${r.movesByReason.rebalanced ? ` (${r.movesByReason.rebalanced} by measured speed)` : ''}`
        : '',
      r.tasksRequeued ? `${r.tasksRequeued} tasks requeued` : '',
      r.lateResultsDiscarded ? `${r.lateResultsDiscarded} late results discarded` : '',
      r.speculativeCopies ? `${r.speculativeCopies} speculative copies (${r.speculativeWins} won)` : '',
    ].filter(Boolean);
    return `cluster ${r.cluster}, ${r.workers} workers, ${r.tasks} tasks in ${r.passes} passes (${spread})${r.retries ? `, ${r.retries} retries` : ''}${moves.length ? `, ${moves.join(', ')}` : ''}${loops}`;
  }
  const local = t as LocalTelemetry;
  const busy = local.perWorker.map((w) => `${Math.round(w.busyRatio * 100)}%`).join('/');
  const faults = [
    local.retries ? `${local.retries} retries` : '',
    local.workerRestarts ? `${local.workerRestarts} worker restarts` : '',
    local.speculativeWins ? `${local.speculativeWins} speculative wins` : '',
  ].filter(Boolean);
  return (
    `${t.kind}, ${t.workers} workers, ${t.tasks} tasks in ${t.passes} passes, busy ${busy}, ` +
    `overhead ${(local.overheadSecondsPerPass * 1000).toFixed(1)} ms/pass${faults.length ? `, ${faults.join(', ')}` : ''}`
  );
}
