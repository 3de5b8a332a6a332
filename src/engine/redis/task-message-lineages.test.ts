/**
 * The lineages a loop slot's task carries (partitions read from a source): which ones a slot gets,
 * and that they are signed like the rest of the message (a forged split could make a worker read
 * any file it can reach).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loopSlots } from './loop-runner.ts';
import { type PlacedLineage, slotLineages } from './source-partitions.ts';
import { checkTaskMessage, makeTaskMessage } from './task-message.ts';

const placed: PlacedLineage = {
  handlers: 'tabular',
  splits: [0, 1, 2, 3, 4].map((p) => ({
    format: 'csv',
    location: '/data/x.csv',
    start: p * 10,
    end: p * 10 + 10,
  })),
  specKey: 'distml:run:r1:spec:p0',
  specDigest: 'ab'.repeat(32),
};
const secret = Buffer.from('0123456789abcdef0123456789abcdef');

test('slot w of W carries the lineages of partitions w, w + W, … in order; W never exceeds the partitions', () => {
  assert.equal(loopSlots(2, 5), 2);
  assert.equal(loopSlots(8, 5), 5);
  assert.equal(loopSlots(3, 0), 1);
  const starts = (slot: number, slots: number) =>
    slotLineages(placed, slot, slots).map((l) => (l.split as { start: number }).start);
  assert.deepEqual(starts(0, 2), [0, 20, 40]);
  assert.deepEqual(starts(1, 2), [10, 30]);
  assert.deepEqual(starts(4, 5), [40]);
  for (const l of slotLineages(placed, 1, 2)) {
    assert.equal(l.handlers, 'tabular');
    assert.equal(l.specKey, placed.specKey);
    assert.equal(l.specDigest, placed.specDigest);
  }
});

test("a loop task's lineages are signed: a changed, dropped or added split is refused", () => {
  const fields = {
    run: 'r1',
    step: 4,
    partition: 1,
    jobId: 'r1-4-1',
    kernel: 'sgd.linearLoop',
    placement: 'p0',
    argsKey: 'k',
    resultLength: 9,
    lineages: slotLineages(placed, 1, 2),
  };
  const m = makeTaskMessage(fields, secret);
  assert.equal(checkTaskMessage(m, secret), undefined);
  const [first, second] = fields.lineages;
  const forged = { ...first!, split: { format: 'csv', location: '/etc/shadow', start: 0, end: 10 } };
  assert.equal(checkTaskMessage({ ...m, lineages: [forged, second] }, secret), 'bad-signature');
  assert.equal(checkTaskMessage({ ...m, lineages: [first] }, secret), 'bad-signature');
  assert.equal(checkTaskMessage({ ...m, lineages: [first, second, first] }, secret), 'bad-signature');
  // The spec's digest is signed with the split: another spec cannot be slipped in under its key.
  const respec = { ...first!, specDigest: 'cd'.repeat(32) };
  assert.equal(checkTaskMessage({ ...m, lineages: [respec, second] }, secret), 'bad-signature');
  assert.equal(
    checkTaskMessage({ ...makeTaskMessage(fields), lineages: [{ ...first!, specDigest: 'x' }] }),
    'malformed',
  );
  const { lineages: _, ...without } = m;
  assert.equal(checkTaskMessage(without, secret), 'bad-signature');
  // The same lineage as a pass's single `lineage` is another message.
  assert.equal(checkTaskMessage({ ...without, lineage: first }, secret), 'bad-signature');
  assert.equal(checkTaskMessage({ ...makeTaskMessage(fields), lineages: [{ handlers: 1 }] }), 'malformed');
  assert.equal(checkTaskMessage({ ...makeTaskMessage(fields), lineages: 'x' }), 'malformed');
});
