/**
 * Benchmark: sgd-classifier on the parameter server under BSP, ASP and SSP. Generates a seeded
 * classification problem (1,000,000 rows × 20 features by default), holds out its last 20%, and
 * trains the same model on 2 worker threads in each consistency mode. Prints, per mode, the test
 * accuracy and its gap to BSP's (the goal: within 1 point), the largest and mean staleness
 * the parameter server measured (SSP's must be at most `--staleness`) and the fit time.
 *
 *   npx tsx bench/sgd-consistency.ts [--rows N] [--features D] [--workers W] [--staleness S]
 *                                    [--epochs E] [--loss L] [--batch-size B] [--json FILE]
 *
 * The fit time is the wall time of the library's `train` on already started threads: encoding
 * the frame into shared memory, placing it, and the loop; the data generation is not in it.
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { makeClassification } from '../src/data/generate.ts';
import type { ClassificationScores } from '../src/metrics/classification.ts';
import { createEngine } from '../src/pipeline/engines.ts';
import { splitFrame } from '../src/pipeline/split-frame.ts';
import { train } from '../src/pipeline/train.ts';

/** Options of {@link sgdConsistencyBenchmark}. */
export interface SgdConsistencyOptions {
  readonly rows: number;
  readonly features: number;
  readonly workers: number;
  /** SSP's bound s. */
  readonly staleness: number;
  readonly epochs: number;
  readonly loss: string;
  /** Rows per clock on each worker. */
  readonly batchSize: number;
}

/** What one mode measured. */
export interface ModeResult {
  readonly mode: 'bsp' | 'asp' | 'ssp';
  readonly accuracy: number;
  /** accuracy − BSP's accuracy. */
  readonly gapToBsp: number;
  readonly maxStaleness: number;
  readonly meanStaleness: number;
  readonly fitSeconds: number;
  readonly steps: number;
  /** Whether this mode met its goal: within 1 point of BSP, and for SSP staleness ≤ s. */
  readonly ok: boolean;
}

/** Trains BSP, ASP and SSP in turn on one engine and reports each. */
export async function sgdConsistencyBenchmark(options: SgdConsistencyOptions): Promise<ModeResult[]> {
  const { rows, features, workers, staleness, epochs, loss, batchSize } = options;
  // Threads start while the data is generated, so BSP's time (the first) does not include them.
  const engine = createEngine({ workers, local: { startEagerly: true } });
  const { frame } = makeClassification({ rows, features, classSeparation: 1, seed: 2026 });
  const { train: trainRows, test } = splitFrame(frame, { testFraction: 0.2, method: 'tail' });
  try {
    const measured: Array<Omit<ModeResult, 'gapToBsp' | 'ok'>> = [];
    for (const mode of ['bsp', 'asp', 'ssp'] as const) {
      const started = performance.now();
      const model = await train(trainRows, {
        target: 'label',
        model: 'sgd-classifier',
        engine,
        seed: 1,
        params: { loss, epochs, batchSize, consistency: mode, staleness },
      });
      const fitSeconds = (performance.now() - started) / 1000;
      const reason = model.meta.fit.reason ?? '';
      // runSgd reports the parameter server's own measurement in the fit's reason.
      const m =
        /as (\d+) steps .* on each of (\d+) worker\(s\).*staleness measured max (\d+), mean ([\d.]+)/.exec(
          reason,
        );
      if (m === null) throw new Error(`no staleness in the fit's reason: ${reason}`);
      if (Number(m[2]) !== workers) {
        throw new Error(`the loop ran on ${m[2]} worker(s), not ${workers}: ${reason} (raise --rows)`);
      }
      measured.push({
        mode,
        accuracy: (model.evaluate(test) as ClassificationScores).accuracy,
        maxStaleness: Number(m[3]),
        meanStaleness: Number(m[4]),
        fitSeconds,
        steps: Number(m[1]),
      });
    }
    const bsp = measured[0]!.accuracy;
    return measured.map((r) => {
      const gapToBsp = r.accuracy - bsp;
      const withinBound = r.mode !== 'ssp' || r.maxStaleness <= staleness;
      return { ...r, gapToBsp, ok: Math.abs(gapToBsp) <= 0.01 && withinBound };
    });
  } finally {
    await engine.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '1000000' },
      features: { type: 'string', default: '20' },
      workers: { type: 'string', default: '2' },
      staleness: { type: 'string', default: '2' },
      epochs: { type: 'string', default: '5' },
      loss: { type: 'string', default: 'log' },
      'batch-size': { type: 'string', default: '32' },
      json: { type: 'string' },
    },
  });
  const options: SgdConsistencyOptions = {
    rows: Number(values.rows),
    features: Number(values.features),
    workers: Number(values.workers),
    staleness: Number(values.staleness),
    epochs: Number(values.epochs),
    loss: values.loss,
    batchSize: Number(values['batch-size']),
  };
  process.stderr.write(
    `sgd-consistency: ${options.rows} rows × ${options.features} features, sgd-classifier loss=${options.loss}, ` +
      `${options.epochs} epochs, batches of ${options.batchSize} rows, ${options.workers} workers, SSP bound ${options.staleness}\n`,
  );
  const results = await sgdConsistencyBenchmark(options);
  console.log('mode  accuracy  vs BSP   max staleness  mean staleness  fit (s)  goal');
  for (const r of results) {
    const gap = `${r.gapToBsp >= 0 ? '+' : ''}${(100 * r.gapToBsp).toFixed(2)} pt`;
    console.log(
      `${r.mode.toUpperCase().padEnd(6)}${r.accuracy.toFixed(4).padStart(8)}  ${gap.padStart(8)}` +
        `${String(r.maxStaleness).padStart(15)}${r.meanStaleness.toFixed(2).padStart(16)}` +
        `${r.fitSeconds.toFixed(2).padStart(9)}  ${r.ok ? 'met' : 'MISSED'}`,
    );
  }
  if (values.json !== undefined) {
    writeFileSync(values.json, `${JSON.stringify({ options, results }, null, 2)}\n`);
  }
  if (!results.every((r) => r.ok)) process.exitCode = 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
