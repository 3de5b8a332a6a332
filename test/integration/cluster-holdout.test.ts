/**
 * Held-out rows with `train --cluster URL --shared-data`: the workers hold rows out by the per-row
 * rule (data/held-out.ts), fit on the others, and score the held-out rows with the fitted model;
 * the driver sees only truths and predictions. The reference for the scores is `distml evaluate`
 * of the saved model on a file of exactly the held-out rows, chosen here by the exported rule from
 * the data file's own lines: the same rows in the same order through the same metric code, so the
 * scores must be equal, not merely close. Real redis-server, real worker processes.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { readCsv } from '../../src/data/csv-reader.ts';
import { isHeldOut } from '../../src/data/held-out.ts';
import { writeParquet } from '../../src/data/parquet.ts';
import { readModelFile } from '../../src/io/model-file.ts';
import { connectEngine } from '../../src/pipeline/engines.ts';
import { trainFromSource } from '../../src/pipeline/train-source.ts';
import { dataset, runCli } from '../helpers/cli.ts';
import { startWorker, useCluster } from '../helpers/redis-server.ts';

const fx = useCluster('distml-cluster-holdout-');
const LOANS = dataset('loans.csv');
const LOGISTIC = ['--target', 'defaulted', '--model', 'logistic-regression'];
/** Coefficients of fits whose sums add in another order (see cluster-source.test.ts). */
const TOLERANCE = 1e-10;

fx.setup(async () => {
  // Three workers in namespace h3, two in h2: the same fit on clusters of 3 and of 2.
  for (const name of ['a', 'b', 'c'])
    fx.workers.push(await startWorker(fx.redis.url, ['--name', name, '--namespace', 'h3']));
  for (const name of ['d', 'e'])
    fx.workers.push(await startWorker(fx.redis.url, ['--name', name, '--namespace', 'h2']));
});

interface Report {
  data: { rows: number; trainRows: number; testRows: number; testFraction: number; split: string };
  metrics: Record<string, number>;
  metricsOn: string;
  timings: { predictSeconds?: number };
  engine: { tasks: number; passes: number; bytesOut: number; bytesIn: number; partitionBytesOut: number };
}

const onCluster = (workers: 2 | 3, ...extra: string[]) => [
  '--cluster',
  fx.redis.url,
  '--namespace',
  `h${workers}`,
  '--min-workers',
  String(workers),
  '--shared-data',
  ...extra,
];

/** Trains; returns the report, the coefficients and the outputs. */
async function train(name: string, data: string, what: readonly string[], extra: readonly string[]) {
  const model = join(fx.dir, `${name}.distml`);
  const report = join(fx.dir, `${name}.json`);
  const r = await runCli(['train', data, ...what, '--save', model, '--report', report, ...extra]);
  assert.equal(r.code, 0, r.stderr);
  const file = await readModelFile(model);
  const coef = [...file.tensors.coef!.data, ...file.tensors.intercept!.data];
  return { model, report: JSON.parse(await readFile(report, 'utf8')) as Report, coef, ...r };
}

/** `distml evaluate MODEL DATA`: its report's metrics and its stderr. */
async function evaluate(model: string, data: string, name: string) {
  const report = join(fx.dir, `${name}-eval.json`);
  const r = await runCli(['evaluate', model, data, '--report', report]);
  assert.equal(r.code, 0, r.stderr);
  const parsed = JSON.parse(await readFile(report, 'utf8')) as { metrics: Record<string, number> };
  return { metrics: parsed.metrics, stderr: r.stderr };
}

/**
 * The data lines of a CSV file with the byte offset where each starts: the keys of the rule.
 * (The test files here have no blank lines; the unit tests cover those.)
 */
async function csvLines(path: string): Promise<{ header: string; lines: { at: number; text: string }[] }> {
  const text = await readFile(path, 'utf8');
  assert.equal(Buffer.byteLength(text), text.length, 'the offsets below count one byte per character');
  const headerEnd = text.indexOf('\n') + 1;
  const lines: { at: number; text: string }[] = [];
  for (let at = headerEnd; at < text.length; ) {
    const end = text.indexOf('\n', at);
    const stop = end < 0 ? text.length : end;
    lines.push({ at, text: text.slice(at, stop) });
    at = stop + 1;
  }
  return { header: text.slice(0, headerEnd), lines };
}

/** Writes `header` + `lines` to a CSV file in the scratch folder. */
async function csvFile(name: string, header: string, lines: readonly string[]): Promise<string> {
  const path = join(fx.dir, name);
  await writeFile(path, `${header}${lines.map((l) => `${l}\n`).join('')}`);
  return path;
}

let threeWorkers: { report: Report; coef: number[] } | undefined;

test('held-out scores equal `distml evaluate` on exactly the rows the rule holds out; the fit saw only the others', async () => {
  const rule = { seed: 7, fraction: 0.2 };
  const shared = await train('loans-3', LOANS, LOGISTIC, [
    ...onCluster(3, '--partitions', '5'),
    '--seed',
    '7',
  ]);
  const { report } = shared;
  // The rule, applied here to the file's own lines, names the held-out rows.
  const { header, lines } = await csvLines(LOANS);
  const held = lines.filter((l) => isHeldOut(rule, l.at)).map((l) => l.text);
  const kept = lines.filter((l) => !isHeldOut(rule, l.at)).map((l) => l.text);
  assert.equal(report.metricsOn, 'test');
  assert.deepEqual(report.data, {
    ...report.data,
    rows: 5000,
    testRows: held.length,
    trainRows: kept.length,
    testFraction: 0.2,
    split: 'random',
  });
  assert.equal(report.data.trainRows + report.data.testRows, 5000);
  assert.ok(Math.abs(held.length - 1000) < 4 * Math.sqrt(5000 * 0.2 * 0.8), `${held.length} held out`);
  // The same rows, in the same (file) order, through the same metric code: equal scores.
  const heldFile = await csvFile('loans-held.csv', header, held);
  const evaluated = await evaluate(shared.model, heldFile, 'loans-3');
  assert.deepStrictEqual(report.metrics, evaluated.metrics);
  assert.ok(report.metrics.accuracy! > 0.8 && report.metrics.rocAuc! > 0.6, JSON.stringify(report.metrics));
  // The saved model carries the scores, as the frame path's does.
  const meta = (await readModelFile(shared.model)).meta as { metrics: Record<string, number> };
  assert.deepStrictEqual(meta.metrics, report.metrics);
  assert.match(shared.stdout, /split\s+random, per row on the workers: (\d+) train \/ (\d+) test/);
  assert.match(
    shared.stderr,
    new RegExp(`scoring the held-out rows on the workers: ${held.length} rows scored`),
  );

  // The fit saw the training rows only: the frame path on a file of just those rows gives the
  // model (its plan, labels and coefficients), up to the order in which partitions' sums add.
  const trainFile = await csvFile('loans-train.csv', header, kept);
  const frame = await train('loans-train-serial', trainFile, LOGISTIC, [
    '--workers',
    '0',
    '--partitions',
    '5',
    '--test-fraction',
    '0',
  ]);
  const worst = Math.max(
    ...shared.coef.map((c, i) => Math.abs(c - frame.coef[i]!) / Math.max(1, Math.abs(frame.coef[i]!))),
  );
  assert.ok(worst <= TOLERANCE, `coefficients ${worst} apart`);

  // The driver's bytes stay small. Out: the plan, each pass's coefficients and the model file for
  // the scoring (5 splits x 13 features + intercept); in: the profiles, each pass's gradients, and
  // per held-out row its label, prediction and two probabilities (24 bytes). The held-out rows'
  // encoded features alone would be 13 x 8 = 104 bytes a row.
  const { engine } = report;
  assert.equal(engine.partitionBytesOut, 0);
  assert.ok(engine.bytesOut < 60_000, `bytesOut ${engine.bytesOut}`);
  assert.ok(engine.bytesIn < 40_000 + 24 * held.length, `bytesIn ${engine.bytesIn}`);
  assert.ok(engine.bytesIn < 104 * held.length, `bytesIn ${engine.bytesIn}`);
  // One profile and one score task per split, besides the passes.
  assert.equal(engine.tasks, 5 + engine.passes * 5 + 5);
  threeWorkers = shared;
});

test('the same model and scores on a cluster of 2 workers as of 3 (placement does not choose rows)', async () => {
  assert.ok(threeWorkers !== undefined, 'runs after the 3-worker fit');
  const two = await train('loans-2', LOANS, LOGISTIC, [...onCluster(2, '--partitions', '5'), '--seed', '7']);
  assert.deepStrictEqual(two.coef, threeWorkers.coef);
  assert.deepStrictEqual(two.report.metrics, threeWorkers.report.metrics);
  assert.deepStrictEqual(two.report.data, threeWorkers.report.data);
  // The library returns what the CLI reports.
  const engine = await connectEngine({ cluster: { url: fx.redis.url, namespace: 'h2', minWorkers: 2 } });
  try {
    const fit = await trainFromSource(LOANS, {
      target: 'defaulted',
      model: 'logistic-regression',
      engine,
      partitions: 5,
      seed: 7,
      testFraction: 0.2,
    });
    assert.deepStrictEqual(
      [fit.rows, fit.trainRows, fit.testRows],
      [5000, two.report.data.trainRows, two.report.data.testRows],
    );
    assert.deepStrictEqual({ ...fit.metrics }, two.report.metrics);
  } finally {
    await engine.close();
  }
});

test('a worker SIGKILLed at its score task: another worker reads the split again and scores it; the same scores', async () => {
  assert.ok(threeWorkers !== undefined, 'runs after the 3-worker fit');
  // The same deal as namespace h3 (a 0,3; b 1,4; c 2), placement fixed: c runs one profile, one task
  // per pass and one score task, and dies at that last one, after the fit, as it starts scoring.
  const scoreTask = threeWorkers.report.engine.passes + 2;
  const ns = ['--namespace', 'hk', '--lock-ms', '1500'];
  for (const name of ['a', 'b']) fx.workers.push(await startWorker(fx.redis.url, ['--name', name, ...ns]));
  const victim = await startWorker(fx.redis.url, [
    '--name',
    'c',
    ...ns,
    '--inject-fault',
    `kill:worker=0,task=${scoreTask}`,
  ]);
  fx.workers.push(victim);
  const cluster = ['--cluster', fx.redis.url, '--namespace', 'hk', '--min-workers', '3', '--shared-data'];
  const killed = await train('loans-killed', LOANS, LOGISTIC, [
    ...cluster,
    '--partitions',
    '5',
    '--no-rebalance',
    '--seed',
    '7',
  ]);
  assert.equal(await victim.exited, 'SIGKILL');
  assert.match(victim.log(), new RegExp(`injected fault kill at task ${scoreTask} `));
  assert.match(killed.stderr, /worker c presumed dead \(heartbeat expired\)/);
  assert.deepStrictEqual(killed.coef, threeWorkers.coef);
  assert.deepStrictEqual(killed.report.metrics, threeWorkers.report.metrics);
  assert.deepStrictEqual(killed.report.data, threeWorkers.report.data);
});

test('Parquet and regression: rows held out by their row index; scores equal `distml evaluate`', async () => {
  const csv = dataset('diabetes.csv');
  const path = join(fx.dir, 'diabetes.parquet');
  await writeParquet(path, await readCsv(csv), { rowGroupSize: 50 });
  const what = ['--target', 'target', '--model', 'linear-regression'];
  const shared = await train('diabetes', path, what, [
    ...onCluster(3, '--partitions', '4'),
    '--test-fraction',
    '0.25',
  ]);
  const rule = { seed: 42, fraction: 0.25 };
  const { header, lines } = await csvLines(csv);
  const held = lines.filter((_, i) => isHeldOut(rule, i)).map((l) => l.text);
  assert.equal(shared.report.data.testRows, held.length);
  assert.equal(shared.report.data.trainRows + held.length, lines.length);
  const evaluated = await evaluate(
    shared.model,
    await csvFile('diabetes-held.csv', header, held),
    'diabetes',
  );
  assert.deepStrictEqual(shared.report.metrics, evaluated.metrics);
  assert.ok(shared.report.metrics.r2! > 0.3, JSON.stringify(shared.report.metrics));
});

/** A small classification file: `n` rows of x, color and label, with `special` rows overwritten. */
function smallRows(n: number): string[] {
  return Array.from(
    { length: n },
    (_, i) => `${(i % 17) / 4},${i % 2 === 0 ? 'red' : 'blue'},${i % 3 === 0 ? 'p' : 'q'}`,
  );
}

test('a category only held-out rows hold: all zeros with a warning, as the frame path; a class only they hold is refused', async () => {
  const header = 'x,color,label\n';
  const rows = smallRows(400);
  const probe = await csvLines(await csvFile('probe.csv', header, rows));
  const rule = { seed: 42, fraction: 0.2 };
  // The first held-out row gets a colour no training row has. (Lines keep their length, so the
  // offsets, and with them the rule's choices, stay those of the probe.)
  const target = probe.lines.findIndex((l) => isHeldOut(rule, l.at));
  assert.ok(target >= 0);
  const recolored = rows.map((r, i) =>
    i === target ? r.replace(/red|blue/, i % 2 === 0 ? 'pur' : 'navy') : r,
  );
  assert.equal(recolored[target]!.length, rows[target]!.length);
  const path = await csvFile('unseen.csv', header, recolored);
  const shared = await train(
    'unseen',
    path,
    ['--target', 'label', '--model', 'logistic-regression'],
    [...onCluster(3, '--partitions', '3')],
  );
  const level = target % 2 === 0 ? 'pur' : 'navy';
  assert.match(
    shared.stderr,
    /1 held-out row\(s\) of \S+unseen\.csv have a 'color' value not seen in training; encoded as all zeros/,
  );
  const plan = (await readModelFile(shared.model)).meta as { preprocessing: { outputNames: string[] } };
  assert.ok(
    !plan.preprocessing.outputNames.includes(`color=${level}`),
    'the plan learned from training rows only',
  );
  const { lines } = await csvLines(path);
  const held = lines.filter((l) => isHeldOut(rule, l.at)).map((l) => l.text);
  const evaluated = await evaluate(shared.model, await csvFile('unseen-held.csv', header, held), 'unseen');
  assert.deepStrictEqual(shared.report.metrics, evaluated.metrics);
  assert.match(evaluated.stderr, /1 row\(s\) of \S+ have a 'color' value not seen in training/);

  // A class that only a held-out row holds: the model cannot know it. The frame path's scoring
  // refuses such a label with a TargetError (exit 1); here the profile finds it before the fit.
  const relabeled = rows.map((r, i) => (i === target ? `${r.slice(0, -1)}z` : r));
  const badPath = await csvFile('held-class.csv', header, relabeled);
  const r = await runCli([
    'train',
    badPath,
    '--target',
    'label',
    '--model',
    'logistic-regression',
    ...onCluster(3, '--partitions', '3'),
  ]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    /target column 'label' holds label 'z' only in held-out rows, which the model does not know \(classes: p, q\)/,
  );
  assert.doesNotMatch(r.stderr, /iteration/, 'refused before fitting');
});

test('refusals: --split tail or stratified with --shared-data (exit 2), and a held-out set that comes out empty', async () => {
  for (const split of ['tail', 'stratified']) {
    const r = await runCli(['train', LOANS, ...LOGISTIC, '--split', split, ...onCluster(3)]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`--split ${split} cannot be used with --shared-data: .*use --split random`),
    );
  }
  // Five rows, each held out with probability 0.01: with seed 42 none is.
  const header = 'x,color,label\n';
  const path = await csvFile('tiny.csv', header, smallRows(5));
  const { lines } = await csvLines(path);
  assert.ok(
    lines.every((l) => !isHeldOut({ seed: 42, fraction: 0.01 }, l.at)),
    'no row held out',
  );
  const r = await runCli([
    'train',
    path,
    '--target',
    'label',
    '--model',
    'logistic-regression',
    '--test-fraction',
    '0.01',
    ...onCluster(3),
  ]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(
    r.stderr,
    /--test-fraction 0\.01 leaves no test rows out of 5: with --shared-data each row is held out on its own with probability 0\.01 \(seed 42\) \(use a larger --test-fraction/,
  );
  assert.doesNotMatch(r.stderr, /NaN/);
});
