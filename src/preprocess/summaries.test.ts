import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readCsv } from '../data/csv-reader.ts';
import { blockRanges } from '../data/design-matrix.ts';
import { Frame } from '../data/frame.ts';
import { fitLabels } from './labels.ts';
import { fitPlan, type PreprocessPlan } from './preprocessor.ts';
import {
  type ColumnSummary,
  classesFromSummary,
  type LabelSummary,
  mergeLabelSummaries,
  mergeSummaries,
  planFromSummaries,
  summarizeFeatures,
  summarizeLabels,
} from './summaries.ts';

const data = (name: string) => fileURLToPath(new URL(`../../data/${name}`, import.meta.url));

/** The plan of `frame`'s rows cut into `parts` blocks, summarised block by block and merged. */
function mergedPlan(frame: Frame, parts: number, standardize: boolean): PreprocessPlan {
  let merged: ColumnSummary[] | undefined;
  for (const [start, end] of blockRanges(frame.rows, parts)) {
    const s = summarizeFeatures(frame.slice(start, end));
    merged = merged === undefined ? s : mergeSummaries(merged, s);
  }
  return planFromSummaries(merged!, { standardize, dropFirstLevel: false });
}

function assertSamePlan(got: PreprocessPlan, want: PreprocessPlan): void {
  assert.deepEqual(got.outputNames, want.outputNames);
  want.steps.forEach((w, j) => {
    const g = got.steps[j]!;
    assert.equal(g.kind, w.kind);
    if (w.kind === 'category') {
      assert.deepEqual(g, w); // levels and fill are counts: exact
      return;
    }
    if (g.kind !== 'number') return;
    for (const key of ['fill', 'center', 'scale'] as const) {
      const rel = Math.abs(g[key] - w[key]) / Math.max(1e-300, Math.abs(w[key]));
      assert.ok(rel <= 1e-12, `${w.name}.${key}: ${g[key]} vs ${w[key]} (relative ${rel})`);
    }
  });
}

test('merged partition summaries give the plan fitPlan learns from the whole frame', async () => {
  // loans.csv: numeric columns with missing values, categorical ones with quoted commas.
  const loans = (await readCsv(data('loans.csv'))).drop(['defaulted']);
  const cancer = (await readCsv(data('breast_cancer.csv'))).drop(['label']);
  for (const frame of [loans, cancer]) {
    for (const standardize of [true, false]) {
      const whole = fitPlan(frame, { standardize, dropFirstLevel: false });
      for (const parts of [1, 2, 3, 7, 13, 64]) assertSamePlan(mergedPlan(frame, parts, standardize), whole);
    }
  }
});

test('a partition without any value of a column merges as if it were absent', () => {
  const frame = Frame.fromRecord({ x: [null, null, 1, 2, 4], c: [null, 'b', 'a', 'b', null] });
  const a = summarizeFeatures(frame.slice(0, 2));
  const b = summarizeFeatures(frame.slice(2));
  assertSamePlan(
    planFromSummaries(mergeSummaries(a, b), { standardize: true, dropFirstLevel: false }),
    fitPlan(frame, { standardize: true, dropFirstLevel: false }),
  );
});

test('merged label summaries give the classes fitLabels learns, and refuse missing labels', async () => {
  const loans = await readCsv(data('loans.csv'));
  const iris = await readCsv(data('iris.csv'));
  const wine = await readCsv(data('wine.csv')); // numeric class labels 0, 1, 2
  for (const [frame, target] of [
    [loans, 'defaulted'],
    [iris, 'label'],
    [wine, 'label'],
  ] as const) {
    const column = frame.column(target);
    for (const parts of [1, 4, 13]) {
      let merged: LabelSummary | undefined;
      for (const [start, end] of blockRanges(frame.rows, parts)) {
        const s = summarizeLabels(frame.slice(start, end).column(target));
        merged = merged === undefined ? s : mergeLabelSummaries(merged, s);
      }
      assert.deepEqual(classesFromSummary(merged!), fitLabels(column));
    }
  }
  const gap = Frame.fromRecord({ y: ['a', null, 'b'] }).column('y');
  assert.throws(() => classesFromSummary(summarizeLabels(gap)), /'y' has 1 missing value/);
});
