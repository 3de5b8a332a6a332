/**
 * The per-row held-out rule: the share of rows it holds out, that it is a function of (seed, key)
 * alone, and that the keys the split readers give (line offsets for CSV, row indices for Parquet)
 * make the choice independent of where a file is cut into splits.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ParamError } from '../errors.ts';
import { readCsv } from './csv-reader.ts';
import { checkHeldOutRule, heldOutMask, isHeldOut, rowsWhere } from './held-out.ts';
import { writeParquet } from './parquet.ts';
import { planSource, readSplitKeyed } from './source.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'distml-held-out-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const N = 100_000;

/** Keys as CSV line offsets: a header of 12 bytes, then lines of 20 to 40 bytes. */
function lineOffsets(n: number): Float64Array {
  const keys = new Float64Array(n);
  let at = 12;
  for (let i = 0; i < n; i++) {
    keys[i] = at;
    at += 20 + ((i * 7919) % 21);
  }
  return keys;
}

function count(mask: Uint8Array): number {
  let c = 0;
  for (let i = 0; i < mask.length; i++) c += mask[i]!;
  return c;
}

test('holds out each fraction of 100,000 rows within 4 standard deviations, for four kinds of keys', () => {
  const kinds = {
    'row indices': Float64Array.from({ length: N }, (_, i) => i),
    'line offsets': lineOffsets(N),
    // Lines of equal length: keys in arithmetic progression, the pattern most likely to alias.
    'offsets of 40-byte lines': Float64Array.from({ length: N }, (_, i) => 7 + 40 * i),
    // Offsets past 2^32: a multi-gigabyte file's high word must mix in too.
    'offsets past 4 GiB': Float64Array.from({ length: N }, (_, i) => 2 ** 33 + 37 * i),
  };
  for (const [kind, keys] of Object.entries(kinds)) {
    for (const fraction of [0.01, 0.2, 0.5, 0.9]) {
      for (const seed of [0, 42, 2 ** 40 + 3]) {
        const held = count(heldOutMask({ seed, fraction }, keys));
        const sd = Math.sqrt(N * fraction * (1 - fraction));
        assert.ok(
          Math.abs(held - N * fraction) <= 4 * sd,
          `${kind}, fraction ${fraction}, seed ${seed}: ${held} held out, expected ${N * fraction} ± ${4 * sd}`,
        );
      }
    }
  }
});

test('neighbouring rows are chosen independently: both of two adjacent rows held out at the rate f²', () => {
  const keys = lineOffsets(N);
  const mask = heldOutMask({ seed: 42, fraction: 0.5 }, keys);
  let both = 0;
  for (let i = 1; i < N; i++) both += mask[i]! & mask[i - 1]!;
  const p = 0.25;
  const sd = Math.sqrt((N - 1) * p * (1 - p));
  assert.ok(Math.abs(both - (N - 1) * p) <= 4 * sd, `${both} adjacent pairs held out`);
});

test('a function of (seed, key) alone: the same choice row by row and in bulk, another seed another choice', () => {
  const keys = lineOffsets(10_000);
  const rule = { seed: 7, fraction: 0.3 };
  const mask = heldOutMask(rule, keys);
  assert.deepStrictEqual(heldOutMask(rule, keys), mask);
  for (let i = 0; i < keys.length; i++) assert.equal(isHeldOut(rule, keys[i]!), mask[i] === 1);
  // Reversed keys, same choices: a row's choice does not depend on the rows around it.
  const reversed = heldOutMask(rule, keys.slice().reverse());
  assert.deepStrictEqual(reversed.reverse(), mask);
  // Two seeds agree on a row with probability f² + (1 − f)² = 0.58.
  const other = heldOutMask({ seed: 8, fraction: 0.3 }, keys);
  let same = 0;
  for (let i = 0; i < keys.length; i++) same += other[i] === mask[i] ? 1 : 0;
  assert.ok(Math.abs(same / keys.length - 0.58) < 0.03, `seeds 7 and 8 agree on ${same} rows`);
});

test('a larger fraction holds out a superset of the rows a smaller one does (same seed)', () => {
  const keys = lineOffsets(20_000);
  const small = heldOutMask({ seed: 3, fraction: 0.1 }, keys);
  const large = heldOutMask({ seed: 3, fraction: 0.25 }, keys);
  for (let i = 0; i < keys.length; i++) if (small[i] === 1) assert.equal(large[i], 1, `row ${i}`);
});

test('rowsWhere lists the marked rows in ascending order', () => {
  const mask = Uint8Array.from([1, 0, 0, 1, 1, 0]);
  assert.deepStrictEqual(rowsWhere(mask, 1), Uint32Array.from([0, 3, 4]));
  assert.deepStrictEqual(rowsWhere(mask, 0), Uint32Array.from([1, 2, 5]));
});

test('bad rules are refused naming --test-fraction or --seed', () => {
  for (const fraction of [0, 1, -0.1, Number.NaN])
    assert.throws(
      () => checkHeldOutRule({ seed: 1, fraction }),
      (e: unknown) => {
        assert.ok(e instanceof ParamError);
        assert.match(e.message, /--test-fraction must be a number between 0 and 1 \(exclusive\)/);
        return true;
      },
    );
  assert.throws(
    () => checkHeldOutRule({ seed: 1.5, fraction: 0.2 }),
    /--seed must be a non-negative integer, got 1\.5/,
  );
});

/** A CSV with blank lines, CRLF line breaks and quoted fields, and the offset of each row's line. */
async function messyCsv(): Promise<{ path: string; offsets: number[] }> {
  let text = 'a,b,label\n';
  const offsets: number[] = [];
  for (let i = 0; i < 3000; i++) {
    if (i % 97 === 5) text += '\n';
    if (i % 131 === 7) text += '\r\n';
    offsets.push(Buffer.byteLength(text));
    const b = i % 3 === 0 ? `"q, ${i}"` : `b${i % 11}`;
    text += `${(i * 0.37).toFixed(2)},${b},${i % 2 === 0 ? 'x' : 'y'}${i % 5 === 0 ? '\r\n' : '\n'}`;
  }
  const path = join(dir, 'messy.csv');
  await writeFile(path, text);
  return { path, offsets };
}

test("CSV split keys are the offsets of the rows' lines, whatever the splits; so is the held-out set", async () => {
  const { path, offsets } = await messyCsv();
  const rule = { seed: 42, fraction: 0.2 };
  const expected = offsets.filter((o) => isHeldOut(rule, o));
  for (const partitions of [1, 3, 7, 16]) {
    const plan = await planSource(path, { partitions });
    const keys: number[] = [];
    const held: number[] = [];
    const a: number[] = [];
    for (const split of plan.splits) {
      const read = await readSplitKeyed(split);
      assert.equal(read.keys.length, read.frame.rows);
      keys.push(...read.keys);
      const mask = heldOutMask(rule, read.keys);
      for (const i of rowsWhere(mask, 1)) {
        held.push(read.keys[i]!);
        a.push((read.frame.column('a') as { values: Float64Array }).values[i]!);
      }
    }
    assert.deepStrictEqual(keys, offsets, `${partitions} partitions`);
    assert.deepStrictEqual(held, expected, `${partitions} partitions`);
    // The rows held out are the rows at those offsets (a = row · 0.37).
    assert.deepStrictEqual(
      a,
      expected.map((o) => Number((offsets.indexOf(o) * 0.37).toFixed(2))),
    );
  }
});

test("Parquet split keys are row indices from the file's first row, whatever the row groups per split", async () => {
  const { path: csv } = await messyCsv();
  const path = join(dir, 'messy.parquet');
  await writeParquet(path, await readCsv(csv), { rowGroupSize: 250 });
  for (const partitions of [1, 4, 5]) {
    const plan = await planSource(path, { partitions });
    const keys: number[] = [];
    for (const split of plan.splits) keys.push(...(await readSplitKeyed(split)).keys);
    assert.deepStrictEqual(
      keys,
      Array.from({ length: 3000 }, (_, i) => i),
      `${partitions} partitions`,
    );
  }
});
