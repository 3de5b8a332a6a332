/**
 * Saving, inspecting, predicting with and evaluating model files through the CLI, and generating data.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseCsv } from '../../src/data/csv-reader.ts';
import { dataset, runCli } from '../helpers/cli.ts';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'distml-files-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('train --save, then inspect, predict and evaluate the saved model', async () => {
  const model = join(dir, 'loans.distml');
  const trained = await runCli([
    'train',
    dataset('loans.csv'),
    '--target',
    'defaulted',
    '--model',
    'logistic-regression',
    '--split',
    'tail',
    '--save',
    model,
  ]);
  assert.equal(trained.code, 0, trained.stderr);
  const accuracy = Number(/^accuracy\s+(\S+)$/m.exec(trained.stdout)![1]);

  const inspected = await runCli(['inspect', model]);
  assert.equal(inspected.code, 0, inspected.stderr);
  assert.match(inspected.stdout, /^model\s+logistic-regression$/m);
  assert.match(inspected.stdout, /^classes\s+no, yes$/m);
  assert.match(inspected.stdout, /^ {2}region\s+one-hot over 5 levels, fill missing with '/m);
  assert.match(inspected.stdout, /^tensor coef\s+f64\[1×\d+\]/m);
  assert.match(inspected.stdout, /^metric accuracy\s+0\.\d+$/m);
  const json = JSON.parse((await runCli(['inspect', model, '--json'])).stdout) as Record<string, unknown>;
  assert.equal(json.format, 'distml-model');
  assert.equal(json.formatVersion, 1);

  const out = join(dir, 'predictions.csv');
  const predicted = await runCli(['predict', model, dataset('loans.csv'), '--out', out]);
  assert.equal(predicted.code, 0, predicted.stderr);
  const predictions = parseCsv(await readFile(out, 'utf8'), out);
  assert.equal(predictions.rows, 5000);
  assert.deepEqual(predictions.names, ['prediction', 'proba_no', 'proba_yes']);

  const evaluated = await runCli(['evaluate', model, dataset('loans.csv')]);
  assert.equal(evaluated.code, 0, evaluated.stderr);
  assert.match(evaluated.stdout, /^logLoss\s+0\.\d{4}$/m);
  assert.ok(accuracy > 0.85);
});

test('predict to stdout, with categories never seen in training', async () => {
  const model = join(dir, 'unseen.distml');
  const train = join(dir, 'train.csv');
  await writeFile(train, 'x,color,y\n1,red,a\n2,blue,b\n3,red,a\n4,blue,b\n5,red,a\n6,blue,b\n');
  const t = await runCli([
    'train',
    train,
    '--target',
    'y',
    '--model',
    'logistic-regression',
    '--test-fraction',
    '0',
    '--save',
    model,
  ]);
  assert.equal(t.code, 0, t.stderr);
  const rows = join(dir, 'rows.csv');
  await writeFile(rows, 'x,color\n1.5,green\n5.5,blue\n');
  const r = await runCli(['predict', model, rows]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /1 row\(s\) have a 'color' value not seen in training/);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines[0], 'prediction,proba_a,proba_b');
  assert.equal(lines.length, 3);
  assert.equal(lines[2]!.split(',')[0], 'b');
});

test('a corrupted model file is refused by name', async () => {
  const model = join(dir, 'corrupt.distml');
  const t = await runCli([
    'train',
    dataset('iris.csv'),
    '--target',
    'label',
    '--model',
    'logistic-regression',
    '--save',
    model,
  ]);
  assert.equal(t.code, 0, t.stderr);
  const bytes = await readFile(model);
  bytes[bytes.length - 3]! ^= 0xff;
  await writeFile(model, bytes);
  const r = await runCli(['predict', model, dataset('iris.csv')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /corrupt\.distml: checksum-mismatch: /);
  await writeFile(model, bytes.subarray(0, 40));
  const cut = await runCli(['inspect', model]);
  assert.equal(cut.code, 1);
  assert.match(cut.stderr, /corrupt\.distml: truncated: /);
});

test('generate writes seeded CSV and Parquet data that trains', async () => {
  const csv = join(dir, 'gen.csv');
  const pq = join(dir, 'gen.parquet');
  for (const out of [csv, pq]) {
    const g = await runCli([
      'generate',
      'classification',
      '--rows',
      '800',
      '--features',
      '6',
      '--seed',
      '3',
      '--out',
      out,
    ]);
    assert.equal(g.code, 0, g.stderr);
  }
  const again = join(dir, 'gen2.csv');
  await runCli([
    'generate',
    'classification',
    '--rows',
    '800',
    '--features',
    '6',
    '--seed',
    '3',
    '--out',
    again,
  ]);
  assert.equal(await readFile(again, 'utf8'), await readFile(csv, 'utf8'));
  const fromCsv = await runCli(['train', csv, '--target', 'label', '--model', 'logistic-regression']);
  const fromParquet = await runCli(['train', pq, '--target', 'label', '--model', 'logistic-regression']);
  assert.equal(fromCsv.code, 0, fromCsv.stderr);
  assert.equal(fromParquet.code, 0, fromParquet.stderr);
  const acc = (s: string) => /^accuracy\s+(\S+)$/m.exec(s)![1];
  assert.equal(acc(fromParquet.stdout), acc(fromCsv.stdout));
  assert.ok(Number(acc(fromCsv.stdout)) > 0.7);
  const bad = await runCli(['generate', 'spirals', '--rows', '10', '--features', '2', '--out', csv]);
  assert.equal(bad.code, 2);
  assert.match(
    bad.stderr,
    /value 'spirals' is invalid for argument 'kind'\. Allowed choices are classification, regression, blobs/,
  );
});

test('inspect --weights prints every learned weight by feature and class', async () => {
  const model = join(dir, 'iris-weights.distml');
  const t = await runCli([
    'train',
    dataset('iris.csv'),
    '--target',
    'label',
    '--model',
    'logistic-regression',
    '--save',
    model,
  ]);
  assert.equal(t.code, 0, t.stderr);
  const r = await runCli(['inspect', model, '--weights']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^feature\s+class setosa\s+class versicolor\s+class virginica$/m);
  const row = /^petal_width_cm\s+(\S+)\s+(\S+)\s+(\S+)$/m.exec(r.stdout);
  assert.ok(row, r.stdout);
  // At the optimum of the L2-penalised softmax the class weights of a feature sum to 0 (the loss
  // gradients of the k rows sum to 0, leaving λ·ΣW = 0); stopping at tol = 1e-4 with λ = 1/(C·n),
  // n = 120, allows |ΣW| ≤ k·tol·C·n = 0.036.
  assert.ok(Math.abs(Number(row[1]) + Number(row[2]) + Number(row[3])) < 0.036);
  assert.match(r.stdout, /^\(intercept\)(\s+-?\d\.\d+(e[+-]\d+)?){3}$/m);
  assert.match(r.stdout, /weights apply to standardized features/);
});
