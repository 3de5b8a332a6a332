/**
 * The `tabular` source handlers with sample weights, on the worker side, without a cluster: the
 * weights are checked per split as the frame path checks them, summed for the driver, left out of
 * the features, and placed as the partition's last column exactly as training from a frame places
 * them.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readCsv } from '../data/csv-reader.ts';
import { planSource } from '../data/source.ts';
import { sharedFloat64 } from '../engine/local/protocol.ts';
import { getSourceHandlers, type Plain } from '../engine/source-tasks.ts';
import { applyPlan, fitPlan } from '../preprocess/preprocessor.ts';
import { appendWeightColumn } from './sample-weight.ts';
import { type BuildSpec, type ProfileSpec, type SplitProfile, TABULAR_SOURCE } from './source-tasks.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'distml-source-tasks-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const handlers = () => getSourceHandlers(TABULAR_SOURCE);
const SPEC: ProfileSpec = { target: 'y', task: 'regression', sampleWeight: 'w' };
/** The run the calls belong to (a cluster task's run id). */
const RUN = 'run-1';
/** Where a build's arrays go: shared memory, as a worker with kernel threads gives. */
const sharedArrays = sharedFloat64;

async function csv(name: string, lines: readonly string[]): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}

const rows = (n: number, weight: (i: number) => string) => [
  'a,w,b,y',
  ...Array.from({ length: n }, (_, i) => `${i % 7},${weight(i)},${(i * 3) % 11},${i % 5}`),
];

test('weighted splits: summed for the driver, not features, and placed as the last column like the frame path', async () => {
  const path = await csv(
    'ok.csv',
    rows(50, (i) => String((i % 4) / 2)),
  );
  const source = await planSource(path, { partitions: 3 });
  const profiles: SplitProfile[] = [];
  for (const split of source.splits)
    profiles.push(
      (await handlers().profile(split as unknown as Plain, SPEC as unknown as Plain, RUN)) as never,
    );
  let sum = 0;
  for (let i = 0; i < 50; i++) sum += (i % 4) / 2;
  assert.equal(
    profiles.reduce((s, p) => s + p.weightSum!, 0),
    sum,
  );
  assert.deepEqual(
    profiles[0]!.features.map((f) => f.name),
    ['a', 'b'],
  );

  // The frame path on the whole file: features a, b; weights appended as the last column.
  const frame = await readCsv(path);
  const features = frame.drop(['y', 'w']);
  const plan = fitPlan(features, { standardize: true, dropFirstLevel: false });
  const whole = applyPlan(plan, features, 'ok.csv');
  const weights = frame.column('w');
  assert.equal(weights.kind, 'number');
  const want = appendWeightColumn(
    whole.X,
    whole.rows,
    whole.cols,
    weights.kind === 'number' ? weights.values : new Float64Array(0),
    (n) => new Float64Array(n),
  );
  const spec: BuildSpec = { ...SPEC, plan };
  const got: number[] = [];
  for (const split of source.splits) {
    const part = await handlers().build(
      split as unknown as Plain,
      spec as unknown as Plain,
      RUN,
      sharedArrays,
    );
    assert.equal(part.cols, 3);
    // Built in the memory it was given (the worker's kernel threads read it there, uncopied).
    assert.ok(part.X.buffer instanceof SharedArrayBuffer && part.y.buffer instanceof SharedArrayBuffer);
    got.push(...part.X);
  }
  assert.deepStrictEqual(got, [...want]);
});

/** The first error the profiles of `path`'s two splits throw, and the rows of the splits before. */
async function profileError(path: string) {
  const source = await planSource(path, { partitions: 2 });
  let before = 0;
  for (const split of source.splits) {
    try {
      const p = await handlers().profile(split as unknown as Plain, SPEC as unknown as Plain, RUN);
      before += (p as unknown as SplitProfile).rows;
    } catch (err) {
      return { error: err as Error, before };
    }
  }
  throw new Error(`no split failed (${before} rows)`);
}

test('a negative, missing or text weight is named by file, line and byte column within its split', async () => {
  for (const [name, bad, says] of [
    [
      'negative',
      '-2',
      /sample weight column 'w' holds -2 \(weights must be finite numbers ≥ 0; give the row weight 0/,
    ],
    ['missing', '', /sample weight column 'w' holds a missing value/],
    ['text', 'lots', /sample weight column 'w' holds text 'lots', not a number/],
  ] as const) {
    const path = await csv(
      `${name}.csv`,
      rows(40, (i) => (i === 31 ? bad : '1')),
    );
    const { error, before } = await profileError(path);
    // Row 31 sits in the second split; its line there is 2 + (31 − rows before), column 3.
    assert.match(error.message, says);
    const at = `${path} \\(range from byte \\d+; line 1 = the header\\):${2 + 31 - before}:3: `;
    assert.match(error.message, new RegExp(`^${at}`));
  }
});

test('text past the head sample keeps the weights hint; a column read as categories on purpose gives its numbers', async () => {
  // Over the 1 MiB head sample, so the column reads as numeric and the parser meets the text.
  const big = rows(200_000, (i) => (i === 190_000 ? 'heavy' : '1'));
  const { error } = await profileError(await csv('late.csv', big));
  assert.match(error.message, /:\d+:\d+: column 'w' holds text 'heavy'/);
  assert.match(error.message, /sample weights must be finite numbers ≥ 0 on every row/);
  assert.doesNotMatch(error.message, /--categorical/);

  const path = await csv(
    'categorical.csv',
    rows(20, (i) => String(i % 3)),
  );
  const source = await planSource(path, { partitions: 1, categorical: ['w'] });
  const p = (await handlers().profile(
    source.splits[0] as unknown as Plain,
    SPEC as unknown as Plain,
    RUN,
  )) as unknown as SplitProfile;
  assert.equal(p.weightSum, 19);
});

test('a build never takes the rows another run profiled, even of a file rewritten with its size and time stamp kept', async () => {
  const spec: ProfileSpec = { target: 'y', task: 'regression' };
  const path = await csv(
    'rewritten.csv',
    rows(30, () => '1'),
  );
  // Whole seconds, which utimes sets exactly: the rewrite below keeps the time stamp, as a file
  // system with coarse time stamps or a copy that keeps times would.
  const stamp = 1_700_000_000;
  await utimes(path, stamp, stamp);
  const [split] = (await planSource(path, { partitions: 1 })).splits;
  await handlers().profile(split as unknown as Plain, spec as unknown as Plain, 'first-run');

  await csv(
    'rewritten.csv',
    rows(30, () => '1').map((line, i) => (i === 0 ? line : line.replace(/,(\d)$/, (_, d) => `,${9 - d}`))),
  );
  await utimes(path, stamp, stamp);
  const frame = await readCsv(path);
  const features = frame.drop(['y']);
  const plan = fitPlan(features, { standardize: false, dropFirstLevel: false });
  const build: BuildSpec = { ...spec, plan };
  const part = await handlers().build(
    split as unknown as Plain,
    build as unknown as Plain,
    'second-run',
    sharedArrays,
  );
  const y = frame.column('y');
  assert.equal(y.kind, 'number');
  assert.deepStrictEqual([...part.y], [...(y.kind === 'number' ? y.values : [])]);
  assert.deepStrictEqual([...part.y.subarray(0, 3)], [9, 8, 7]);
});
