/**
 * The measures table of bench/docs.ts (the cluster workload's section): each figure in its unit,
 * beside its goal, with a missed goal in bold. Expected lines written by hand from the rows below.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { measuresTable, renderDocs } from '../../bench/docs.ts';
import type { MeasuresSection, SuiteResult } from '../../bench/lib/results.ts';

const section: MeasuresSection = {
  kind: 'measures',
  id: 'cluster',
  title: 'Cluster engine: sync cost and scaling',
  about: ['What is measured.'],
  command: 'npm run bench -- cluster',
  rows: [
    {
      measure: 'sync cost | per pass',
      value: 42.24,
      unit: 'ms',
      goal: '< 50 ms',
      met: true,
      detail: 'median of 12',
    },
    { measure: 'fit, 1 process', value: 3.456, unit: 's', detail: 'median of 3' },
    { measure: 'speed-up', value: 1.4, unit: '×', goal: '≥ 1.6×', met: false, detail: 'ratio of medians' },
  ],
  notes: ['a note'],
};

test('a measures section is one table of figures against their goals', () => {
  assert.equal(
    measuresTable(section),
    [
      '| measure | value | goal | met | how |',
      '| --- | ---: | --- | --- | --- |',
      '| sync cost \\| per pass | 42.2 ms | < 50 ms | yes | median of 12 |',
      '| fit, 1 process | 3.46 s |  |  | median of 3 |',
      '| speed-up | 1.40× | ≥ 1.6× | **no** | ratio of medians |',
    ].join('\n'),
  );
});

test('the page renders a measures section with its command, table and notes', () => {
  const result: SuiteResult = {
    schema: 1,
    quick: false,
    command: 'npm run bench -- cluster',
    startedAt: '2026-11-23T00:00:00.000Z',
    totalSeconds: 60,
    source: { commit: 'abc1234 test', dirty: false },
    machine: { cpuModel: 'Test CPU', cores: 2, memoryBytes: 2 ** 30, node: 'v20', platform: 'linux-x64' },
    peers: [],
    sections: [section],
  };
  const page = renderDocs(result);
  assert.match(
    page,
    /## Cluster engine: sync cost and scaling\n\nWhat is measured\.\n\nReproduce with `npm run bench -- cluster`\.\n\n\| measure \| value/,
  );
  assert.match(page, /\| speed-up \| 1\.40× \| ≥ 1\.6× \| \*\*no\*\* \| ratio of medians \|\n\n- a note\n/);
});
