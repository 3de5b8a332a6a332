/**
 * `distml train --model sgd-classifier` end to end: two workers under SSP, saved, inspected and
 * used to predict. With `shuffle=false` the fit is scikit-learn's `shuffle=False` sequence of
 * updates (breast_cancer is small, so the engine runs the loop on the driver thread as one
 * worker), so the scores and weights are those of test/fixtures/sgd-sklearn.json, computed by
 * test/fixtures/sgd_sklearn.py with scikit-learn 1.2.1.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { dataset, ROOT, runCli } from '../helpers/cli.ts';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'distml-sgd-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface ReferenceFit {
  readonly dataset: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly coef: readonly number[];
  readonly intercept: readonly number[];
  readonly accuracy: number;
}

test('sgd-classifier on 2 workers under SSP(2): trains, saves, shows its weights, predicts probabilities', async () => {
  const fits = JSON.parse(await readFile(`${ROOT}test/fixtures/sgd-sklearn.json`, 'utf8')) as ReferenceFit[];
  const ref = fits.find(
    (f) => f.dataset === 'breast_cancer' && JSON.stringify(f.params) === '{"loss":"log"}',
  );
  assert.ok(ref !== undefined);
  const model = join(dir, 'cancer.distml');
  const report = join(dir, 'report.json');
  const trained = await runCli([
    'train',
    dataset('breast_cancer.csv'),
    '--target',
    'label',
    '--model',
    'sgd-classifier',
    '--workers',
    '2',
    '--param',
    'consistency=ssp',
    '--param',
    'staleness=2',
    '--param',
    'loss=log',
    '--param',
    'shuffle=false',
    '--split',
    'tail',
    '--save',
    model,
    '--report',
    report,
  ]);
  assert.equal(trained.code, 0, trained.stderr);
  const rep = JSON.parse(await readFile(report, 'utf8')) as {
    params: Record<string, unknown>;
    metrics: Record<string, number>;
    fit: { reason: string };
  };
  assert.equal(rep.params.consistency, 'ssp');
  assert.equal(rep.params.staleness, 2);
  assert.match(rep.fit.reason, /under SSP\(s=2\); staleness measured max 0/);
  assert.ok(Math.abs(rep.metrics.accuracy! - ref.accuracy) < 1e-4, `accuracy ${rep.metrics.accuracy}`);

  const inspected = await runCli(['inspect', model, '--weights']);
  assert.equal(inspected.code, 0, inspected.stderr);
  // Six significant digits, as inspect prints them.
  const row = (name: string) =>
    new RegExp(`^${name.replace(/[()]/g, '\\$&')}\\s+(\\S+)$`, 'm').exec(inspected.stdout);
  const radius = row('mean_radius');
  const intercept = row('(intercept)');
  assert.ok(radius !== null && intercept !== null, inspected.stdout);
  assert.equal(Number(radius[1]), Number(ref.coef[0]!.toPrecision(6)));
  assert.equal(Number(intercept[1]), Number(ref.intercept[0]!.toPrecision(6)));

  const predicted = await runCli(['predict', model, dataset('breast_cancer.csv')]);
  assert.equal(predicted.code, 0, predicted.stderr);
  const [header, first] = predicted.stdout.split('\n');
  assert.equal(header, 'prediction,proba_0,proba_1');
  const [, p0, p1] = first!.split(',').map(Number);
  assert.ok(Math.abs(p0! + p1! - 1) < 1e-9, first);
});
