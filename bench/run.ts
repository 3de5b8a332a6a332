/**
 * `npm run bench [-- NAME…] [--rows N] [--runs K]`: runs the benchmarks, prints a summary and
 * writes bench/results/NAME.json. Benchmarks are kept out of `npm test`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { csvReadBenchmark } from './csv-read.ts';
import { linearBenchmark } from './linear-vs-sklearn.ts';
import { workersBenchmark } from './workers.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { rows: { type: 'string', default: '1000000' }, runs: { type: 'string', default: '3' } },
});
const rows = Number(values.rows);
const runs = Number(values.runs);
const known = ['csv-read', 'workers', 'linear'];
const wanted = positionals.length === 0 ? known : positionals;
const results = new URL('./results/', import.meta.url).pathname;
mkdirSync(results, { recursive: true });
const machine = {
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model ?? 'unknown',
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
  platform: `${process.platform}-${process.arch}`,
};

for (const name of wanted) {
  if (!known.includes(name)) throw new Error(`unknown benchmark '${name}' (known: ${known.join(', ')})`);
  if (name === 'workers') {
    await runWorkers();
    continue;
  }
  if (name === 'linear') {
    await runLinear();
    continue;
  }
  process.stderr.write(`csv-read: ${rows} rows × 50 features, ${runs} runs each\n`);
  const r = await csvReadBenchmark({ rows, features: 50, runs });
  writeFileSync(
    `${results}csv-read.json`,
    `${JSON.stringify({ machine, command: `npm run bench -- csv-read --rows ${rows} --runs ${runs}`, ...r }, null, 2)}\n`,
  );
  const mb = (r.fileBytes / 1e6).toFixed(0);
  console.log(`csv-read (${rows} × 51, ${mb} MB), median of ${runs}`);
  console.log(
    `  distml  ${r.distml.medianSeconds.toFixed(2)}s  ${(r.distml.rowsPerSecond / 1e3).toFixed(0)}k rows/s  peak memory ${r.distml.peakOverArrays.toFixed(2)}× the typed arrays`,
  );
  if (r.pandas) {
    console.log(
      `  pandas  ${r.pandas.medianSeconds.toFixed(2)}s  ${(r.pandas.rowsPerSecond / 1e3).toFixed(0)}k rows/s  peak memory ${r.pandas.peakOverArrays.toFixed(2)}× its arrays (pandas ${r.pandas.version})`,
    );
    console.log(`  distml is ${r.speedupOverPandas!.toFixed(2)}× as fast as pandas.read_csv`);
  } else console.log(`  pandas skipped: ${r.pandasSkipped}`);
}

async function runWorkers(): Promise<void> {
  process.stderr.write(`workers: ${rows} rows × 50 features, serial / 1 / 2 workers, ${runs} runs each\n`);
  const r = await workersBenchmark({ rows, features: 50, runs });
  const rowsFlag = rows === 1_000_000 ? '' : ` --rows ${rows}`;
  writeFileSync(
    `${results}workers.json`,
    `${JSON.stringify({ machine, command: `npm run bench -- workers${rowsFlag} --runs ${runs}`, ...r }, null, 2)}\n`,
  );
  const ms = (s: number | undefined) => (s === undefined ? 'n/a' : (s * 1000).toFixed(2));
  const mark = r.identicalModels ? '' : ' [MODELS DIFFER: see warning]';
  console.log(`workers (logistic regression, ${rows} × 50, 2 partitions), median of ${runs}${mark}`);
  console.log(`  ${r.trainCommand}`);
  console.log(
    '  engine     fit s  s/iter  iters passes  vs 1 worker  vs serial  overhead ms/pass  ms/iter  accuracy',
  );
  for (const s of r.summary) {
    console.log(
      `  ${s.label.padEnd(9)} ${s.medianFitSeconds.toFixed(2).padStart(6)} ${s.medianSecondsPerIteration.toFixed(3).padStart(7)} ` +
        `${String(s.iterations).padStart(6)} ${String(s.passes).padStart(6)} ${`${s.speedupVsOneWorker.toFixed(2)}×`.padStart(12)} ` +
        `${`${s.speedupVsSerial.toFixed(2)}×`.padStart(10)} ${ms(s.medianOverheadSecondsPerPass).padStart(17)} ` +
        `${ms(s.medianOverheadSecondsPerIteration).padStart(8)}  ${s.accuracy}`,
    );
  }
  for (const s of r.summary) {
    if (s.medianBusyRatio === undefined) continue;
    console.log(
      `  ${s.label}: sync wait ${s.medianSyncWaitSeconds?.toFixed(3) ?? 'n/a'}s, busy ratio per worker ${s.medianBusyRatio.map((b) => b.toFixed(2)).join(' / ')}`,
    );
  }
  const g = r.goals;
  console.log(
    `  goal: speedup 2 vs 1 worker ${g.speedup2v1.goal.replace(/ for .*/, '')}: ${g.speedup2v1.measured.toFixed(2)}× → ${g.speedup2v1.met ? 'MET' : 'NOT MET'}`,
  );
  console.log(
    `  goal: engine overhead ${g.overheadPerIteration.goal.replace(/ of .*/, '')}/iteration: ${Object.entries(
      g.overheadPerIteration.measured,
    )
      .map(([k, v]) => `${k} ${ms(v)} ms`)
      .join(', ')} → ${g.overheadPerIteration.met ? 'MET' : 'NOT MET'}`,
  );
  console.log(
    `  hardware ceiling (2 threads, pure compute, ${r.ceiling.trials.length} trials): ${r.ceiling.medianRatio.toFixed(2)}× ` +
      `(1 thread ${r.ceiling.medianSingleSeconds.toFixed(2)}s, 2 threads ${r.ceiling.medianParallelWallSeconds.toFixed(2)}s wall; ` +
      `range ${Math.min(...r.ceiling.trials.map((t) => t.ratio)).toFixed(2)}–${Math.max(...r.ceiling.trials.map((t) => t.ratio)).toFixed(2)}×)`,
  );
  for (const w of r.warnings) console.log(`  warning: ${w}`);
  if (!r.identicalModels) {
    const bar = '!'.repeat(78);
    console.error(`\n${bar}\n!! WARNING: the serial, 1-worker and 2-worker models are NOT identical.`);
    console.error('!! The speedup may have been bought with accuracy. Mismatches:');
    for (const m of r.mismatches) console.error(`!!   ${m}`);
    console.error(`${bar}\n`);
  }
}

async function runLinear(): Promise<void> {
  process.stderr.write(
    `linear: distml (2 / 1 / 0 workers) against scikit-learn, fit time only, ${runs} rounds\n`,
  );
  const r = await linearBenchmark({ runs });
  writeFileSync(
    `${results}linear.json`,
    `${JSON.stringify({ machine, command: `npm run bench -- linear --runs ${runs}`, ...r }, null, 2)}\n`,
  );
  const f = (x: number | undefined, digits = 2) => (x === undefined ? 'n/a' : x.toFixed(digits));
  console.log(
    `linear models against scikit-learn, fit seconds, median of ${runs} (ratio = sklearn / distml 2 workers; > 1: distml faster)`,
  );
  console.log(
    `  source: ${r.source.commit}${r.source.dirty.length > 0 ? ` + uncommitted ${r.source.dirty.join(', ')}` : ''}`,
  );
  if (r.sklearn !== undefined) {
    const v = r.sklearn.versions;
    console.log(
      `  scikit-learn ${v.sklearn}, numpy ${v.numpy}, scipy ${v.scipy}, Python ${v.python} (${r.sklearn.python}); ` +
        `threads: ${JSON.stringify(r.sklearn.threads.pools)}`,
    );
  } else console.log(`  scikit-learn skipped: ${r.sklearnSkipped}`);
  for (const s of r.summary) {
    console.log(
      `\n  ${s.model} (${s.dataset}${s.identicalModels ? '' : ', DISTML MODELS DIFFER ACROSS WORKER COUNTS'})`,
    );
    console.log(`    ${s.command}`);
    const scores = (m: Record<string, number>) => s.scores.map((k) => `${k} ${f(m[k], 6)}`).join(', ');
    for (const d of s.distml) {
      const label = d.workers === 0 ? 'serial   ' : `${d.workers} worker${d.workers === 1 ? ' ' : 's'}`;
      const iterations =
        d.iterations === null || s.model === 'linear-regression' ? '' : `${d.iterations} iterations, `;
      console.log(
        `    distml ${label}  ${f(d.medianFitSeconds).padStart(7)}s  ${iterations}` +
          `${d.passes} pass${d.passes === 1 ? '' : 'es'}  ${scores(d.metrics)}`,
      );
    }
    for (const k of s.sklearn) {
      const verdict = k.goalMet ? 'distml faster or equal: goal MET' : 'scikit-learn faster: goal NOT MET';
      console.log(
        `    sklearn ${k.label}: ${f(k.medianFitSeconds)}s (${k.runs} run${k.runs === 1 ? '' : 's'})` +
          `${k.nIter === null ? '' : `, n_iter_ ${k.nIter}`}  ${scores(k.metrics)}`,
      );
      console.log(`      ratio ${f(k.ratio)} (${verdict}); against distml serial ${f(k.ratioVsSerial)}`);
      for (const w of k.warnings) console.log(`      ${w}`);
    }
  }
  if (r.sklearn?.svcDualRunOnce !== undefined) console.log(`\n  note: ${r.sklearn.svcDualRunOnce}`);
  for (const warning of r.warnings) console.log(`  warning: ${warning}`);
  console.log(`\n  total ${(r.totalSeconds / 60).toFixed(1)} minutes`);
}
