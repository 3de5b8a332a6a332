/**
 * Bad input through the CLI: each case exits non-zero with a message that names the file, line and
 * column or the option, and leaves no model file or report behind.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { dataset, runCli } from '../helpers/cli.ts';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'distml-errors-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs `train` on `csv` text (or a bundled file) and checks the exit code, message and that nothing was written. */
async function failsToTrain(
  name: string,
  csv: string | { file: string },
  args: string[],
  code: number,
  message: RegExp,
): Promise<void> {
  const work = await mkdtemp(join(dir, `${name}-`));
  const data = typeof csv === 'string' ? join(work, `${name}.csv`) : dataset(csv.file);
  if (typeof csv === 'string') await writeFile(data, csv);
  const r = await runCli([
    'train',
    data,
    ...args,
    '--save',
    join(work, 'model.distml'),
    '--report',
    join(work, 'report.json'),
  ]);
  assert.equal(r.code, code, `exit code for ${name}: ${r.stderr}`);
  assert.match(r.stderr, message);
  assert.equal(r.stdout, '', 'no results on stdout');
  const left = (await readdir(work)).filter((f) => f !== `${name}.csv`);
  assert.deepEqual(left, [], `files left behind for ${name}`);
}

const LOGISTIC = ['--target', 'y', '--model', 'logistic-regression'];

test('a row with the wrong field count names file, line and column', async () => {
  await failsToTrain(
    'fields',
    'a,b,y\n1,2,0\n3,4\n5,6,1\n',
    LOGISTIC,
    1,
    /fields\.csv:3:4: expected 3 fields like the header, got 2/,
  );
});

test('an unclosed quote names where the quoted field starts', async () => {
  await failsToTrain('quote', 'a,b,y\n1,2,0\n3,"4,1\n5,6,1\n', LOGISTIC, 1, /quote\.csv:3:3: unclosed quote/);
});

test('an empty file and a header-only file', async () => {
  await failsToTrain('empty', '', LOGISTIC, 1, /empty\.csv is empty/);
  await failsToTrain('header', 'a,b,y\n', LOGISTIC, 1, /header\.csv has a header but no data rows/);
});

test('a missing target column is a usage error with a suggestion', async () => {
  await failsToTrain(
    'target',
    { file: 'iris.csv' },
    ['--target', 'lable', '--model', 'logistic-regression'],
    2,
    /--target: no column 'lable' in the data .*did you mean 'label'\?/,
  );
});

test('a target with one class', async () => {
  await failsToTrain(
    'oneclass',
    'a,y\n1,x\n2,x\n3,x\n4,x\n5,x\n',
    [...LOGISTIC, '--test-fraction', '0'],
    1,
    /target column 'y' has only one class \('x'\)/,
  );
});

test('infinities in the data and NaN where an option needs a number', async () => {
  await failsToTrain(
    'inf',
    'a,y\n1,0\nInfinity,1\n2,0\n3,1\n',
    LOGISTIC,
    1,
    /inf\.csv:3:1: infinite value 'Infinity' in numeric column 'a'/,
  );
  await failsToTrain(
    'nanopt',
    { file: 'iris.csv' },
    ['--target', 'label', '--model', 'logistic-regression', '--test-fraction', 'NaN'],
    2,
    /--test-fraction.*'NaN' is invalid/,
  );
  await failsToTrain(
    'nanparam',
    { file: 'iris.csv' },
    ['--target', 'label', '--model', 'logistic-regression', '--param', 'C=NaN'],
    2,
    /logistic-regression parameter C must be a number, got 'NaN'/,
  );
  await failsToTrain(
    'regnan',
    'a,y\n1,1.5\n2,NA\n3,2\n4,1\n',
    ['--target', 'y', '--model', 'linear-regression', '--test-fraction', '0'],
    1,
    /target column 'y' has 1 missing value/,
  );
});

test('an unknown model or parameter gets a did-you-mean', async () => {
  await failsToTrain(
    'model',
    { file: 'iris.csv' },
    ['--target', 'label', '--model', 'logistic-regresion'],
    2,
    /unknown model 'logistic-regresion' \(did you mean 'logistic-regression'\?\)/,
  );
  await failsToTrain(
    'param',
    { file: 'iris.csv' },
    ['--target', 'label', '--model', 'logistic-regression', '--param', 'c=1'],
    2,
    /logistic-regression has no parameter 'c' \(did you mean 'C'\?\)/,
  );
  await failsToTrain(
    'paramvalue',
    { file: 'iris.csv' },
    ['--target', 'label', '--model', 'logistic-regression', '--param', 'C=-1'],
    2,
    /parameter C must be > 0, got -1/,
  );
});

test('an unknown option gets a suggestion and exit code 2', async () => {
  const r = await runCli([
    'train',
    dataset('iris.csv'),
    '--target',
    'label',
    '--model',
    'linear-regression',
    '--modle',
    'x',
  ]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown option '--modle'/);
  assert.match(r.stderr, /Did you mean --model\?/);
});

test('a missing data file and an output directory that does not exist', async () => {
  const r = await runCli(['train', join(dir, 'nope.csv'), '--target', 'y', '--model', 'logistic-regression']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot read .*nope\.csv: no such file/);
  const s = await runCli([
    'train',
    dataset('iris.csv'),
    '--target',
    'label',
    '--model',
    'logistic-regression',
    '--save',
    join(dir, 'no/such/dir/m.distml'),
  ]);
  assert.equal(s.code, 2);
  assert.match(s.stderr, /--save .*no\/such\/dir.* does not exist/);
});

test('--sample-weight is refused by models without weights, and bad weights name the column', async () => {
  const csv = 'a,b,w,y\n1,2,1,0\n3,4,2,1\n5,6,0,1\n7,9,1,0\n';
  await failsToTrain(
    'weight-model',
    csv,
    [...LOGISTIC, '--sample-weight', 'w'],
    2,
    /--sample-weight: logistic-regression does not support sample weights \(linear-regression and ridge do/,
  );
  const LINEAR = ['--target', 'y', '--model', 'linear-regression', '--test-fraction', '0'];
  await failsToTrain(
    'weight-target',
    csv,
    [...LINEAR, '--sample-weight', 'y'],
    2,
    /column 'y' is the target/,
  );
  await failsToTrain(
    'weight-missing',
    csv,
    [...LINEAR, '--sample-weight', 'wt'],
    2,
    /--sample-weight: no column 'wt'/,
  );
  await failsToTrain(
    'weight-negative',
    'a,b,w,y\n1,2,1,0\n3,4,-2,1\n5,6,0,1\n7,9,1,0\n',
    [...LINEAR, '--sample-weight', 'w'],
    1,
    /sample weight column 'w' holds -2 in data row 2/,
  );
});
