/**
 * The `tabular` source handlers with held-out rows, on the worker side, without a cluster: profiles
 * summarise and builds place exactly the training rows the rule leaves (the frame path's training
 * frame, encoded with the same plan, bit for bit), and the score answers for exactly the held-out
 * rows what `TrainedModel.predict` and `evaluate` give on a frame of them, from the rows the build
 * kept in memory or, failing that, from the file.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readCsv } from '../data/csv-reader.ts';
import { isHeldOut } from '../data/held-out.ts';
import { planSource } from '../data/source.ts';
import { getSourceHandlers, type Plain } from '../engine/source-tasks.ts';
import { encodeLabels, fitLabels } from '../preprocess/labels.ts';
import { applyPlan, fitPlan } from '../preprocess/preprocessor.ts';
import type { ScoreSpec, SplitScores } from './held-out-scoring.ts';
import { type BuildSpec, type ProfileSpec, type SplitProfile, TABULAR_SOURCE } from './source-tasks.ts';
import { train } from './train.ts';

/** Where a build's arrays go: plain memory, as a worker without kernel threads gives. */
const plainArrays = (length: number) => new Float64Array(length);

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'distml-held-out-scoring-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const handlers = () => getSourceHandlers(TABULAR_SOURCE);
const RULE = { seed: 5, fraction: 0.3 };
const ROWS = 600;

/** A classification CSV, and the byte offset of each data line. */
async function data(): Promise<{ path: string; offsets: number[] }> {
  let text = 'x,color,z,label\n';
  const offsets: number[] = [];
  for (let i = 0; i < ROWS; i++) {
    offsets.push(text.length);
    const x = ((i * 37) % 101) / 10 - 5;
    const color = ['red', 'green', 'blue'][(i * 7) % 3]!;
    const label = x + (color === 'red' ? 1 : 0) + ((i * 13) % 7) / 7 > 0.5 ? 'yes' : 'no';
    text += `${x},${color},${(i * 11) % 17},${label}\n`;
  }
  const path = join(dir, 'clf.csv');
  await writeFile(path, text);
  return { path, offsets };
}

test('profile and build see the training rows only; score answers the held-out rows as evaluate would', async () => {
  const { path, offsets } = await data();
  const heldRows = offsets.flatMap((o, i) => (isHeldOut(RULE, o) ? [i] : []));
  const trainRows = offsets.flatMap((o, i) => (isHeldOut(RULE, o) ? [] : [i]));
  const frame = await readCsv(path);
  const trainFrame = frame.take(trainRows);
  const heldFrame = frame.take(heldRows);

  const source = await planSource(path, { partitions: 3 });
  const profileSpec: ProfileSpec = { target: 'label', task: 'classification', heldOut: RULE };
  const profiles: SplitProfile[] = [];
  for (const split of source.splits)
    profiles.push(
      (await handlers().profile(split as unknown as Plain, profileSpec as unknown as Plain, 'r1')) as never,
    );
  assert.equal(
    profiles.reduce((s, p) => s + p.rows, 0),
    trainRows.length,
  );
  assert.equal(
    profiles.reduce((s, p) => s + p.heldOutRows!, 0),
    heldRows.length,
  );
  // Each split's feature summaries count its training rows only.
  for (const p of profiles) for (const f of p.features) assert.equal(f.rows, p.rows, f.name);

  // The frame path learns its plan and labels from the training frame; the build, given them,
  // places exactly that frame's encoded rows.
  const plan = fitPlan(trainFrame.drop(['label']), { standardize: true, dropFirstLevel: false });
  const labels = fitLabels(trainFrame.column('label'));
  const buildSpec: BuildSpec = { ...profileSpec, plan, labels };
  const X: number[] = [];
  const y: number[] = [];
  for (const split of source.splits) {
    const part = await handlers().build(
      split as unknown as Plain,
      buildSpec as unknown as Plain,
      'r1',
      plainArrays,
    );
    X.push(...part.X.subarray(0, part.rows * part.cols));
    y.push(...part.y);
  }
  assert.deepStrictEqual(X, [...applyPlan(plan, trainFrame.drop(['label']), 'train').X]);
  assert.deepStrictEqual(y, [...encodeLabels(labels, trainFrame.column('label'))]);

  const model = await train(trainFrame, { target: 'label', model: 'logistic-regression' });
  const scoreSpec: ScoreSpec = {
    target: 'label',
    task: 'classification',
    heldOut: RULE,
    model: model.toBytes(),
  };
  const scoreAll = async () => {
    const parts: SplitScores[] = [];
    for (const split of source.splits)
      parts.push(
        (await handlers().score!(split as unknown as Plain, scoreSpec as unknown as Plain, 'r1')) as never,
      );
    return {
      truth: Int32Array.from(parts.flatMap((p) => [...p.truth])),
      predicted: Int32Array.from(parts.flatMap((p) => [...p.predicted])),
      proba: Float64Array.from(parts.flatMap((p) => [...p.proba!])),
    };
  };
  // The builds kept the held-out rows: the file is not needed for the score.
  await rename(path, `${path}.away`);
  const fromMemory = await scoreAll();
  await rename(`${path}.away`, path);
  const expected = model.predict(heldFrame);
  assert.deepStrictEqual(fromMemory.truth, encodeLabels(labels, heldFrame.column('label')));
  assert.deepStrictEqual([...fromMemory.predicted], [...expected.values]);
  assert.deepStrictEqual(fromMemory.proba, expected.proba);
  assert.deepStrictEqual(model.scorePredictions(fromMemory), model.evaluate(heldFrame));
  // A worker that did not build the splits (the kept rows are used once) reads them again: the same.
  assert.deepStrictEqual(await scoreAll(), fromMemory);
});
