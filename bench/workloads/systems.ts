/**
 * The common shape of a model workload: distml's CLI on the inline engine, 1 and 2 workers (the
 * same partitions, so the same model), then each Python peer, on one generated dataset, with the
 * same split, into one table whose reference row is distml on 2 workers.
 */
import { isDeepStrictEqual } from 'node:util';
import type { BenchContext } from '../lib/context.ts';
import { LONG_RUN_SECONDS } from '../lib/context.ts';
import { type DatasetSpec, dataset, generateCommand, ROOT } from '../lib/datasets.ts';
import { type TrainRun, trainCommandLine, trainOnce } from '../lib/distml-cli.ts';
import type { PeerId } from '../lib/peers.ts';
import { lastLine, runMeasured } from '../lib/proc.ts';
import type { SystemRow, SystemsSection } from '../lib/results.ts';
import { median } from '../lib/stats.ts';

/** A Python peer of a workload. */
export interface PythonPeer {
  id: string;
  system: string;
  peer: PeerId;
  /** `--system` of bench/peers.py. */
  script: 'sklearn' | 'xgboost';
}

/** What a model workload runs. */
export interface ModelWorkload {
  id: string;
  title: string;
  about: string[];
  data: DatasetSpec;
  target: string;
  /** `--task` of bench/peers.py. */
  task: 'logistic' | 'svc' | 'lsq' | 'sgd';
  model: string;
  params: string[];
  /** How distml was configured, for the settings column. */
  distmlSettings: string;
  /** Extra arguments of bench/peers.py (iterations, tol, C, epochs). */
  peerArgs: string[];
  scoreKey: 'accuracy' | 'r2';
  pythonPeers: PythonPeer[];
  /** When set, distml does not run and its rows say this. */
  distmlSkipped?: string;
}

/** Worker counts, the reference last; 0 is the inline engine. */
const WORKERS = [0, 1, 2] as const;
const TEST_FRACTION = 0.2;
/** The same partitions on every worker count, so every count computes the same model. */
const PARTITIONS = 2;

function label(workers: number): string {
  return workers === 0
    ? 'distml, inline (--workers 0)'
    : `distml, ${workers} worker${workers === 1 ? '' : 's'}`;
}

/** Runs `w` and returns its table. */
export function runModelWorkload(w: ModelWorkload, ctx: BenchContext): SystemsSection {
  const file = dataset(w.data);
  const notes: string[] = [];
  const rows: SystemRow[] = [];
  const spec = (workers: number) => ({
    data: file,
    target: w.target,
    model: w.model,
    params: w.params,
    workers,
    partitions: PARTITIONS,
    testFraction: TEST_FRACTION,
  });

  if (w.distmlSkipped === undefined) {
    const runs = new Map<number, TrainRun[]>(WORKERS.map((k) => [k, []]));
    for (let round = 0; round < ctx.runs; round++) {
      // Rotate the order from round to round so no engine always runs first.
      for (let i = 0; i < WORKERS.length; i++) {
        const workers = WORKERS[(i + round) % WORKERS.length]!;
        const mine = runs.get(workers)!;
        if (round > 0 && mine[0]!.fitSeconds > LONG_RUN_SECONDS) continue;
        const r = trainOnce(spec(workers));
        mine.push(r);
        process.stderr.write(
          `    ${label(workers)}: fit ${r.fitSeconds.toFixed(2)}s${r.iterations === undefined ? '' : `, ${r.iterations} iterations`}\n`,
        );
      }
    }
    const reference = runs.get(2)![0]!;
    for (const workers of WORKERS) {
      const mine = runs.get(workers)!;
      for (const r of mine) {
        if (!isDeepStrictEqual(r.metrics, reference.metrics) || r.iterations !== reference.iterations) {
          notes.push(
            `${label(workers)} gave a different model from 2 workers (metrics or iterations differ).`,
          );
          break;
        }
      }
      if (mine.some((r) => r.engine.inlineReason !== undefined) && workers > 0) {
        notes.push(`${label(workers)} ran on the driver thread: ${mine[0]!.engine.inlineReason}.`);
      }
      const warnings = new Set(mine.flatMap((r) => r.warnings));
      for (const warning of warnings) notes.push(`${label(workers)}: ${warning}`);
      rows.push(distmlRow(workers, mine, w));
    }
    const overhead = [1, 2].flatMap((k) => {
      const o = runs
        .get(k)!
        .map((r) => r.engine.overheadSecondsPerPass)
        .filter((x) => x !== undefined);
      return o.length === 0 ? [] : [`${k} worker${k === 1 ? '' : 's'} ${(median(o) * 1000).toFixed(2)} ms`];
    });
    const two = runs.get(2)!;
    const kernel = median(two.map((r) => r.engine.kernelSeconds / Math.max(1, r.engine.passes)));
    notes.push(
      `distml on 2 workers made ${reference.engine.passes} pass${reference.engine.passes === 1 ? '' : 'es'} over the data, ${kernel.toFixed(3)} s of kernel time ` +
        `per pass (summed over workers)${overhead.length === 0 ? '' : `; engine overhead per pass: ${overhead.join(', ')}`}.`,
    );
  } else {
    for (const workers of WORKERS)
      rows.push({ id: `distml-${workers}`, system: label(workers), runs: 0, skipped: w.distmlSkipped });
  }

  for (const p of w.pythonPeers) rows.push(pythonRow(p, w, file, ctx, notes));

  return {
    kind: 'systems',
    id: w.id,
    title: w.title,
    about: w.about,
    data: `${w.data.rows.toLocaleString('en-US')} × ${w.data.features}, generated by \`${generateCommand(w.data)}\`; the last ${TEST_FRACTION * 100}% of rows are the test set for every system. distml runs \`${trainCommandLine(spec(2))}\` (and \`--workers 0\`, \`1\`).`,
    command: ctx.commandFor(w.id),
    scoreName: w.scoreKey === 'r2' ? 'test R²' : 'test accuracy',
    timeField: 'fitSeconds',
    reference: 'distml-2',
    headline: 'sklearn',
    rows,
    notes,
  };
}

function distmlRow(workers: number, runs: TrainRun[], w: ModelWorkload): SystemRow {
  const peaks = runs.map((r) => r.peakRssBytes).filter((x) => x !== undefined);
  const iterations = runs[0]!.iterations;
  return {
    id: `distml-${workers}`,
    system: label(workers),
    settings: w.distmlSettings,
    fitSeconds: median(runs.map((r) => r.fitSeconds)),
    predictSeconds: median(runs.map((r) => r.predictSeconds)),
    ...(peaks.length === 0 ? {} : { peakRssBytes: median(peaks) }),
    ...(iterations === undefined ? {} : { iterations }),
    score: median(runs.map((r) => r.metrics[w.scoreKey] ?? Number.NaN)),
    runs: runs.length,
  };
}

interface PeerOutput {
  fitSeconds: number[];
  predictSeconds: number[];
  scores: number[];
  iterations: number | null;
  settings: string;
  warnings: string[];
  peakRssBytes: number | null;
}

function pythonRow(
  p: PythonPeer,
  w: ModelWorkload,
  file: string,
  ctx: BenchContext,
  notes: string[],
): SystemRow {
  const status = ctx.peers[p.peer];
  if (!status.available)
    return { id: p.id, system: p.system, runs: 0, skipped: status.reason ?? 'not available' };
  const system = `${p.system} ${status.version}`;
  const script = new URL('../peers.py', import.meta.url).pathname;
  const args = [script, 'fit', file, '--target', w.target, '--task', w.task, '--system', p.script];
  args.push('--runs', String(ctx.runs), '--once-over', String(LONG_RUN_SECONDS), ...w.peerArgs);
  const run = runMeasured(ctx.python, args, { cwd: ROOT });
  if (run.status !== 0) {
    return { id: p.id, system, runs: 0, skipped: `bench/peers.py failed: ${lastLine(run.stderr)}` };
  }
  const out = JSON.parse(run.stdout) as PeerOutput;
  for (const warning of out.warnings) notes.push(`${p.system}: ${warning}`);
  const peak = run.peakRssBytes ?? out.peakRssBytes ?? undefined;
  return {
    id: p.id,
    system,
    settings: out.settings,
    fitSeconds: median(out.fitSeconds),
    predictSeconds: median(out.predictSeconds),
    ...(peak === undefined ? {} : { peakRssBytes: peak }),
    ...(out.iterations === null ? {} : { iterations: out.iterations }),
    score: median(out.scores),
    runs: out.fitSeconds.length,
  };
}
