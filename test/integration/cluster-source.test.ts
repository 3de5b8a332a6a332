/**
 * Cluster workers reading their own partitions (`train --cluster URL --shared-data`): a real
 * redis-server, real `distml worker` processes, data from a path every worker sees and from an
 * http server with Range support. The reference model is `--workers 0 --test-fraction 0` on the
 * same file with the same number of partitions: its partitions are equal row blocks, the cluster's
 * are byte ranges (or row groups), so the per-pass sums add in another order and the coefficients
 * agree to a stated tolerance rather than bit for bit.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readCsv } from '../../src/data/csv-reader.ts';
import { writeParquet } from '../../src/data/parquet.ts';
import { readModelFile } from '../../src/io/model-file.ts';
import { connectEngine } from '../../src/pipeline/engines.ts';
import { trainFromSource } from '../../src/pipeline/train-source.ts';
import { dataset, ROOT, runCli } from '../helpers/cli.ts';
import { type RangeServer, startRangeServer } from '../helpers/range-server.ts';
import { partitionsLoaded, startWorker, useCluster } from '../helpers/redis-server.ts';

const fx = useCluster('distml-cluster-source-');
let http: RangeServer;
const NS = ['--namespace', 'src'];
const LOANS = dataset('loans.csv');
const MODEL = ['--target', 'defaulted', '--model', 'logistic-regression', '--test-fraction', '0'];

/**
 * Coefficients of L-BFGS fits whose gradients are summed in another order. Largest relative
 * differences measured here: 7.0e-14 (loans, path), 3.6e-15 (breast cancer, URL), 1.4e-13 (loans,
 * Parquet); 1e-10 leaves room across platforms while any wrong row or plan shows far above it.
 */
const TOLERANCE = 1e-10;

fx.setup(async () => {
  http = await startRangeServer(`${ROOT}data`);
  for (const name of ['a', 'b', 'c'])
    fx.workers.push(await startWorker(fx.redis.url, ['--name', name, ...NS]));
});
after(async () => {
  await http.stop();
});

interface Report {
  data: { rows: number; sharedData?: boolean };
  timings: { loadSeconds?: number; fitSeconds: number };
  engine: {
    tasks: number;
    passes: number;
    retries: number;
    bytesOut: number;
    partitionBytesOut: number;
    tasksByWorker: Record<string, number>;
    epoch: number;
    partitionsMoved: number;
    tasksRequeued: number;
    partitionsByWorker: Record<string, number>;
  };
}

/** Trains, saves the model and a report; returns the report and the fitted coefficients. */
async function train(name: string, data: string, extra: readonly string[], what = MODEL) {
  const model = join(fx.dir, `${name}.distml`);
  const report = join(fx.dir, `${name}.json`);
  const r = await runCli(['train', data, ...what, '--save', model, '--report', report, ...extra]);
  assert.equal(r.code, 0, r.stderr);
  const file = await readModelFile(model);
  const coef = [...file.tensors.coef!.data, ...file.tensors.intercept!.data];
  return {
    report: JSON.parse(await readFile(report, 'utf8')) as Report,
    coef,
    stdout: r.stdout,
    stderr: r.stderr,
  };
}

function assertClose(got: readonly number[], want: readonly number[]): void {
  assert.equal(got.length, want.length);
  const worst = Math.max(...got.map((g, i) => Math.abs(g - want[i]!) / Math.max(1, Math.abs(want[i]!))));
  assert.ok(worst <= TOLERANCE, `largest difference ${worst} > ${TOLERANCE}\n${got}\n${want}`);
}

const cluster = (...extra: string[]) => [
  '--cluster',
  fx.redis.url,
  ...NS,
  '--min-workers',
  '3',
  '--shared-data',
  ...extra,
];

let sharedCoef: number[] = [];

test('from a shared path: the serial model, no row written to Redis, each partition read once, by its owner', async () => {
  const serial = await train('serial', LOANS, ['--workers', '0', '--partitions', '5']);
  const marks = fx.workers.map((w) => w.log().length);
  const shared = await train('shared', LOANS, cluster('--partitions', '5'));
  assertClose(shared.coef, serial.coef);
  sharedCoef = shared.coef;
  const { engine, data } = shared.report;
  assert.equal(data.rows, 5000);
  assert.equal(data.sharedData, true);
  // One profile task per partition, then one task per partition per pass.
  assert.equal(engine.tasks, 5 + engine.passes * 5);
  // No partition leaves the driver. The 5000 encoded rows (13 features + target, float64) would be
  // 560,000 bytes; what the driver sends is the plan and each pass's coefficients, to each worker.
  assert.equal(engine.partitionBytesOut, 0);
  assert.ok(engine.bytesOut < 56_000, `bytesOut ${engine.bytesOut}`);
  assert.match(shared.stdout, /5000 rows, 7 columns, read by the workers/);
  assert.match(shared.stdout, /distml evaluate MODEL DATA/);
  // The reading has a progress phase of its own, before the fit's, and its own time in the report.
  assert.ok(shared.report.timings.loadSeconds! > 0 && shared.report.timings.fitSeconds > 0);
  assert.match(shared.stdout, /read time\s+\d+\.\d{3}s \(on the workers\)/);
  assert.match(shared.stderr, /reading \S+loans\.csv on the workers: 5 splits read and summarised \(/);
  assert.ok(
    shared.stderr.indexOf('splits read and summarised') <
      shared.stderr.indexOf('fitting logistic-regression on'),
    shared.stderr,
  );
  // Owners are dealt round-robin over the workers sorted by name: a 0,3; b 1,4; c 2. Each reads
  // its partitions from the file once, and runs every task on them.
  assert.deepStrictEqual(
    fx.workers.map((w, i) => partitionsLoaded(w.log().slice(marks[i]))),
    [[0, 3], [1, 4], [2]],
  );
  assert.deepStrictEqual(engine.partitionsByWorker, { a: 2, b: 2, c: 1 });
  assert.equal(engine.tasksByWorker.c, 1 + engine.passes);
  assert.equal(engine.partitionsMoved, 0);
});

test('the library: trainFromSource on a cluster engine gives the CLI model, bit for bit', async () => {
  const engine = await connectEngine({ cluster: { url: fx.redis.url, namespace: 'src', minWorkers: 3 } });
  try {
    const { model, rows, columns } = await trainFromSource(LOANS, {
      target: 'defaulted',
      model: 'logistic-regression',
      engine,
      partitions: 5,
    });
    assert.deepEqual([rows, columns], [5000, 7]);
    const t = model.fitted.tensors();
    assert.deepStrictEqual([...t.coef!.data, ...t.intercept!.data], sharedCoef);
  } finally {
    await engine.close();
  }
});

test("a relative path is the file in the driver's directory, whatever the workers' directory", async () => {
  // The workers run in the repository's root, where no loans.csv is: the splits must name the file
  // the driver meant, by its absolute path.
  const model = join(fx.dir, 'relative.distml');
  const r = await runCli(['train', 'loans.csv', ...MODEL, '--save', model, ...cluster('--partitions', '5')], {
    cwd: join(ROOT, 'data'),
  });
  assert.equal(r.code, 0, r.stderr);
  const tensors = (await readModelFile(model)).tensors;
  assert.deepStrictEqual([...tensors.coef!.data, ...tensors.intercept!.data], sharedCoef);
});

test('from an http URL with Range support: the same model', async () => {
  const data = dataset('breast_cancer.csv');
  const what = ['--target', 'label', '--model', 'logistic-regression', '--test-fraction', '0'];
  const served = http.ranges();
  const serial = await train('bc-serial', data, ['--workers', '0', '--partitions', '4'], what);
  const shared = await train('bc-http', `${http.url}/breast_cancer.csv`, cluster('--partitions', '4'), what);
  assertClose(shared.coef, serial.coef);
  assert.ok(http.ranges() - served >= 4, `range requests: ${http.ranges() - served}`);
  assert.equal(shared.report.engine.partitionBytesOut, 0);
  // A URL's password never shows, not even in the error about a missing target column.
  const withPassword = http.url.replace('http://', 'http://reader:s3cret-pw@');
  const r = await runCli([
    'train',
    `${withPassword}/breast_cancer.csv`,
    '--target',
    'nosuch',
    '--model',
    'logistic-regression',
    '--test-fraction',
    '0',
    ...cluster(),
  ]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--target: http:\/\/127\.0\.0\.1:\d+\/breast_cancer\.csv has no column 'nosuch'/);
  assert.doesNotMatch(r.stderr, /s3cret-pw|reader/);
});

test('a worker SIGKILLed mid-fit: exactly its partition is read again from the source elsewhere, same model', async () => {
  const ns = ['--namespace', 'src-kill', '--lock-ms', '1500'];
  const victim = await startWorker(fx.redis.url, [
    '--name',
    'victim',
    ...ns,
    '--inject-fault',
    'kill:worker=0,task=9',
  ]);
  const others = [
    await startWorker(fx.redis.url, ['--name', 'd', ...ns]),
    await startWorker(fx.redis.url, ['--name', 'e', ...ns]),
  ];
  fx.workers.push(victim, ...others);
  const r = await train('killed', LOANS, [
    '--cluster',
    fx.redis.url,
    '--namespace',
    'src-kill',
    '--min-workers',
    '3',
    '--shared-data',
    '--partitions',
    '5',
  ]);
  assert.equal(await victim.exited, 'SIGKILL');
  const { engine } = r.report;
  // Sorted by name the owners are d 0,3; e 1,4; victim 2. The victim dies at its 9th task (one
  // profile task, then one per pass): when its heartbeat expires, partition 2 goes to the live
  // worker holding the fewest (d and e tie at two; d comes first), which reads it from the file.
  assert.equal(engine.tasksByWorker.victim, 8);
  assert.equal(engine.tasks, 5 + engine.passes * 5);
  assert.match(r.stderr, /membership epoch 2: worker victim presumed dead \(heartbeat expired\)/);
  assert.match(r.stderr, /partitions of p\d+ re-placed: 2 → d\n/);
  assert.deepStrictEqual(partitionsLoaded(victim.log()), [2]);
  assert.deepStrictEqual(
    others.map((w) => partitionsLoaded(w.log())),
    [
      [0, 2, 3],
      [1, 4],
    ],
  );
  assert.equal(engine.tasksRequeued, 1);
  assert.equal(engine.partitionsMoved, 1);
  assert.deepStrictEqual(engine.partitionsByWorker, { d: 3, e: 2 });
  // Same splits, same plan, same fixed combine order: bit for bit the fault-free cluster model.
  assert.deepStrictEqual(r.coef, sharedCoef);
});

test('a worker leaving on SIGTERM mid-fit: its partition moves to a live worker, same model', async () => {
  const ns = ['--namespace', 'src-leave'];
  const leaver = await startWorker(fx.redis.url, [
    '--name',
    'leaver',
    ...ns,
    '--inject-fault',
    'delay:worker=0,task=4,ms=1000',
  ]);
  const others = [
    await startWorker(fx.redis.url, ['--name', 'f', ...ns]),
    await startWorker(fx.redis.url, ['--name', 'g', ...ns]),
  ];
  fx.workers.push(leaver, ...others);
  const fit = train('leave', LOANS, [
    '--cluster',
    fx.redis.url,
    ...ns,
    '--min-workers',
    '3',
    '--shared-data',
    '--partitions',
    '5',
  ]);
  // Owners by name: f 0,3; g 1,4; leaver 2. Mid-task (its 4th: one profile task, then a pass
  // each), the leaver is told to stop: it finishes that task, deregisters and exits 0.
  await new Promise<void>((resolve, reject) => {
    const deadline = Date.now() + 20_000;
    const check = () => {
      if (/injected fault delay at task 4/.test(leaver.log())) resolve();
      else if (Date.now() > deadline) reject(new Error(`no delay: ${leaver.log()}`));
      else setTimeout(check, 50);
    };
    check();
  });
  leaver.child.kill('SIGTERM');
  const r = await fit;
  assert.equal(await leaver.exited, 0);
  assert.match(r.stderr, /membership epoch 2: worker leaver left\n/);
  assert.match(r.stderr, /partitions of p\d+ re-placed: 2 → f\n/);
  assert.deepStrictEqual(
    [leaver, ...others].map((w) => partitionsLoaded(w.log())),
    [[2], [0, 2, 3], [1, 4]],
  );
  assert.equal(r.report.engine.tasks, 5 + r.report.engine.passes * 5);
  assert.deepStrictEqual(r.report.engine.partitionsByWorker, { f: 3, g: 2 });
  assert.deepStrictEqual(r.coef, sharedCoef);
});

test('a Parquet source is split by row groups', async () => {
  const path = join(fx.dir, 'loans.parquet');
  await writeParquet(path, await readCsv(LOANS), { rowGroupSize: 600 });
  const serial = await train('pq-serial', path, ['--workers', '0', '--partitions', '4']);
  const shared = await train('pq-shared', path, cluster('--partitions', '4'));
  assertClose(shared.coef, serial.coef);
  assert.equal(shared.report.data.rows, 5000);
});

test('usage errors: --shared-data needs --cluster and a splittable format', async () => {
  const base = ['train', LOANS, '--target', 'defaulted', '--model', 'logistic-regression', '--shared-data'];
  let r = await runCli([...base, '--test-fraction', '0']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--shared-data needs --cluster URL/);
  r = await runCli(['train', 'rows.jsonl', ...MODEL, '--cluster', fx.redis.url, '--shared-data']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--shared-data reads CSV\/TSV and Parquet files; rows\.jsonl is jsonl/);
});

test("a worker's parse error names the file, the range, the line, the column and --categorical", async () => {
  // Past the driver's 1 MiB head sample, column x holds text: only the worker of that range sees it.
  const lines = ['x,y'];
  for (let i = 0; i < 200_000; i++) lines.push(i === 190_000 ? 'oops,1' : `${i % 7}.5,${i % 2}`);
  const path = join(fx.dir, 'late-text.csv');
  await writeFile(path, `${lines.join('\n')}\n`);
  const r = await runCli([
    'train',
    path,
    '--target',
    'y',
    '--model',
    'logistic-regression',
    ...cluster('--partitions', '3', '--test-fraction', '0'),
  ]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    /late-text\.csv \(range from byte \d+; line 1 = the header\):\d+:1: column 'x' holds text 'oops'.*--categorical x/,
  );
});

/** A regression file with a weight column: noise that grows with |a|, so the weights matter. */
async function weightedData(name: string, weightAt: (i: number) => string): Promise<string> {
  const lines = ['a,b,w,y'];
  for (let i = 0; i < 3000; i++) {
    const a = ((i * 37) % 101) / 10 - 5;
    const b = ((i * 53) % 89) / 10 - 2;
    const noise = ((((i * 7919) % 13) - 6) / 4) * (1 + Math.abs(a));
    lines.push(`${a},${b},${weightAt(i)},${(1 + 2 * a - b + noise).toFixed(5)}`);
  }
  const path = join(fx.dir, name);
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}

const WEIGHTS = ['0', '0.5', '1', '2', '3.25'];
const WEIGHTED = ['--target', 'y', '--model', 'linear-regression', '--test-fraction', '0'];

test('--sample-weight with --shared-data: the weighted model of the frame path, from a CSV and from Parquet', async () => {
  const csv = await weightedData('weighted.csv', (i) => WEIGHTS[(i * 3) % 5]!);
  const weighted = [...WEIGHTED, '--sample-weight', 'w'];
  const serial = await train('w-serial', csv, ['--workers', '0', '--partitions', '3'], weighted);
  const shared = await train('w-shared', csv, cluster('--partitions', '3'), weighted);
  // Byte ranges cut the rows elsewhere than row blocks, so the weighted sums add in another order:
  // measured 4.4e-16 apart; the tolerance is the one every shared-data comparison here uses.
  assertClose(shared.coef, serial.coef);
  const unweighted = await train('w-none', csv, ['--workers', '0', '--partitions', '3'], WEIGHTED);
  // Unweighted, w is a feature: compare the coefficient of a.
  const gap = Math.abs(unweighted.coef[0]! - serial.coef[0]!);
  assert.ok(gap > 1e-3, `the weights changed nothing (${gap})`);
  const file = await readModelFile(join(fx.dir, 'w-shared.distml'));
  const meta = file.meta as { preprocessing: { outputNames: string[] }; training: { sampleWeight?: string } };
  assert.deepEqual(meta.preprocessing.outputNames, ['a', 'b'], 'the weight column is not a feature');
  assert.equal(meta.training.sampleWeight, 'w');

  const parquet = join(fx.dir, 'weighted.parquet');
  await writeParquet(parquet, await readCsv(csv), { rowGroupSize: 500 });
  // Row groups of 500 put rows 0-999, 1000-1999 and 2000-2999 in the three partitions: the row
  // blocks of --partitions 3, so the same sums add in the same order: bit for bit.
  const fromParquet = await train('w-parquet', parquet, cluster('--partitions', '3'), weighted);
  assert.deepStrictEqual(fromParquet.coef, serial.coef);
});

/** The line `line` of range text (the header, then the file from byte `start`), from byte `column`. */
async function textAt(path: string, start: number, line: number, column: number): Promise<string> {
  const text = await readFile(path, 'utf8');
  const range = `${text.slice(0, text.indexOf('\n') + 1)}${text.slice(start)}`;
  return range.split('\n')[line - 1]!.slice(column - 1);
}

test('a negative or non-numeric weight fails on its worker, naming the file, the line and the column', async () => {
  const weighted = [...WEIGHTED, '--sample-weight', 'w'];
  const at =
    /(\S+) \(range from byte (\d+); line 1 = the header\):(\d+):(\d+): sample weight column 'w' holds (.*)/;
  for (const [name, bad, says] of [
    ['negative.csv', '-1.5', /holds -1\.5 \(weights must be finite numbers ≥ 0; give the row weight 0/],
    ['text.csv', 'heavy', /holds text 'heavy', not a number \(weights must be finite numbers ≥ 0\)/],
  ] as const) {
    // Row 2,500 of 3,000 lies in the last of three byte ranges.
    const csv = await weightedData(name, (i) => (i === 2499 ? bad : WEIGHTS[i % 5]!));
    const r = await runCli(['train', csv, ...weighted, ...cluster('--partitions', '3')]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, says);
    const m = at.exec(r.stderr);
    assert.ok(m !== null, r.stderr);
    assert.equal(m[1], csv);
    // The line and column named are those of the bad value: read them back from the file.
    assert.ok((await textAt(csv, Number(m[2]), Number(m[3]), Number(m[4]))).startsWith(`${bad},`));
  }
  const missing = await runCli([
    'train',
    join(fx.dir, 'negative.csv'),
    ...WEIGHTED,
    '--sample-weight',
    'weight',
    ...cluster('--partitions', '3'),
  ]);
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(
    missing.stderr,
    /--sample-weight: \S+negative\.csv has no column 'weight' \(its columns: a, b, w, y\)/,
  );
  const parquet = join(fx.dir, 'negative.parquet');
  await writeParquet(parquet, await readCsv(join(fx.dir, 'negative.csv')), { rowGroupSize: 500 });
  const r = await runCli(['train', parquet, ...weighted, ...cluster('--partitions', '3')]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    /negative\.parquet, data row 2500, column 'w': sample weight column 'w' holds -1\.5/,
  );
});
