import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { parquetMetadata } from 'hyparquet';
import { type ColumnSource, parquetWriteBuffer } from 'hyparquet-writer';
import { DataFormatError, DataValueError, EmptyDataError } from '../errors.ts';
import {
  type CategoricalColumn,
  categoricalColumn,
  Frame,
  type NumericColumn,
  numericColumn,
} from './frame.ts';
import { type ParquetCodec, readParquet, writeParquet } from './parquet.ts';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'distml-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let counter = 0;
function tempPath(): string {
  return join(dir, `f${counter++}.parquet`);
}

async function writeRaw(columnData: ColumnSource[], options: { codec?: 'GZIP'; rowGroupSize?: number } = {}) {
  const path = tempPath();
  const buffer = parquetWriteBuffer({
    columnData,
    rowGroupSize: options.rowGroupSize,
    codec: options.codec,
    compressors: { GZIP: (b) => gzipSync(b) },
  });
  await writeFile(path, new Uint8Array(buffer));
  return path;
}

/** Numbers that are easy to lose: signed zero, subnormals, extremes, non-terminating binary fractions. */
const HARD_NUMBERS = [
  0.1 + 0.2,
  -0,
  0,
  Number.NaN,
  5e-324,
  Number.MAX_VALUE,
  -Number.MIN_VALUE,
  2 ** 53,
  -123456789.0123,
  1 / 3,
  Number.NaN,
  1e-300,
];
const HARD_STRINGS = [
  'plain',
  'a,b',
  'say "hi"',
  'line\nbreak',
  'cr\rlf\r\n',
  'ünïcødé 😀',
  '',
  null,
  'plain',
  null,
  ' x ',
  'NA',
];

function hardFrame(): Frame {
  return Frame.fromRecord({ x: Float64Array.from(HARD_NUMBERS), s: HARD_STRINGS });
}

function assertSameFrame(actual: Frame, expected: Frame): void {
  assert.deepEqual(actual.names, expected.names);
  assert.equal(actual.rows, expected.rows);
  for (const e of expected.columns) {
    const a = actual.column(e.name);
    assert.equal(a.kind, e.kind, `kind of '${e.name}'`);
    if (e.kind === 'number') assert.deepEqual((a as NumericColumn).values, e.values, `values of '${e.name}'`);
    else {
      assert.deepEqual((a as CategoricalColumn).codes, e.codes, `codes of '${e.name}'`);
      assert.deepEqual((a as CategoricalColumn).levels, e.levels, `levels of '${e.name}'`);
    }
  }
}

describe('writeParquet → readParquet', () => {
  test('round-trips numbers bit for bit, missing values, and awkward strings', async () => {
    const path = tempPath();
    const frame = hardFrame();
    await writeParquet(path, frame);
    assertSameFrame(await readParquet(path), frame);
  });

  for (const codec of ['UNCOMPRESSED', 'SNAPPY', 'GZIP', 'BROTLI'] as ParquetCodec[]) {
    test(`round-trips with codec ${codec}`, async () => {
      const path = tempPath();
      const frame = hardFrame();
      await writeParquet(path, frame, { codec });
      const meta = parquetMetadata(new Uint8Array(await readFile(path)));
      assert.deepEqual(
        meta.row_groups[0]!.columns.map((c) => c.meta_data?.codec),
        [codec, codec],
      );
      assertSameFrame(await readParquet(path), frame);
    });
  }

  test('writes zero-copy slices and many row groups', async () => {
    const n = 250_000;
    const values = new Float64Array(n);
    const codes = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      values[i] = i % 11 === 0 ? Number.NaN : i * 0.5;
      codes[i] = i % 13 === 0 ? -1 : i % 3;
    }
    const frame = new Frame([
      numericColumn('v', values),
      categoricalColumn('c', codes, ['p', 'q', 'r']),
    ]).slice(7, n - 5);
    const path = tempPath();
    await writeParquet(path, frame);
    const meta = parquetMetadata(new Uint8Array(await readFile(path)));
    assert.ok(meta.row_groups.length > 1, 'expected several row groups');
    const back = await readParquet(path);
    assert.deepEqual((back.column('v') as NumericColumn).values, (frame.column('v') as NumericColumn).values);
    // Levels come back in first-seen order, so compare values rather than codes.
    const c = frame.column('c') as CategoricalColumn;
    const cb = back.column('c') as CategoricalColumn;
    for (let r = 0; r < frame.rows; r++) {
      assert.equal(
        cb.codes[r] === -1 ? null : cb.levels[cb.codes[r]!],
        c.codes[r] === -1 ? null : c.levels[c.codes[r]!],
      );
    }
  });
});

describe('readParquet', () => {
  test('reads a GZIP file from hyparquet-writer with ints, bigints, booleans, floats and nulls', async () => {
    const path = await writeRaw(
      [
        { name: 'i32', data: [1, null, -3, 4, 5], type: 'INT32' },
        { name: 'i64', data: [2n ** 53n, -(2n ** 53n), null, 7n, 0n], type: 'INT64' },
        { name: 'flag', data: [true, false, null, true, false], type: 'BOOLEAN' },
        { name: 'f32', data: [0.5, null, 1.25, -2, 3], type: 'FLOAT' },
        { name: 'req', data: new Float64Array([1, 2, 3, 4, 5]), type: 'DOUBLE', nullable: false },
        { name: 'name', data: ['b', 'a', null, 'b', 'c'], type: 'STRING' },
      ],
      { codec: 'GZIP', rowGroupSize: 2 },
    );
    const meta = parquetMetadata(new Uint8Array(await readFile(path)));
    assert.equal(meta.row_groups[0]!.columns[0]!.meta_data?.codec, 'GZIP');
    assert.equal(meta.row_groups.length, 3);
    const frame = await readParquet(path);
    assert.deepEqual(frame.names, ['i32', 'i64', 'flag', 'f32', 'req', 'name']);
    const num = (name: string) => Array.from((frame.column(name) as NumericColumn).values);
    assert.deepEqual(num('i32'), [1, Number.NaN, -3, 4, 5]);
    assert.deepEqual(num('i64'), [2 ** 53, -(2 ** 53), Number.NaN, 7, 0]);
    assert.deepEqual(num('flag'), [1, 0, Number.NaN, 1, 0]);
    assert.deepEqual(num('f32'), [0.5, Number.NaN, 1.25, -2, 3]);
    assert.deepEqual(num('req'), [1, 2, 3, 4, 5]);
    const name = frame.column('name') as CategoricalColumn;
    assert.deepEqual(name.levels, ['b', 'a', 'c']);
    assert.deepEqual(Array.from(name.codes), [0, 1, -1, 0, 2]);
  });

  test('an INT64 beyond 2^53 is a DataValueError naming the column and row', async () => {
    const path = await writeRaw([{ name: 'id', data: [1n, 2n ** 53n + 1n], type: 'INT64' }]);
    await assert.rejects(readParquet(path), (err: unknown) => {
      assert.ok(err instanceof DataValueError);
      assert.match(err.message, /column 'id' row 2: integer 9007199254740993 is beyond ±2\^53/);
      return true;
    });
  });

  test('a timestamp column is refused by name and type', async () => {
    const path = await writeRaw([
      { name: 'x', data: [1, 2], type: 'DOUBLE' },
      { name: 'when', data: [new Date(0), new Date(1000)], type: 'TIMESTAMP' },
    ]);
    await assert.rejects(readParquet(path), (err: unknown) => {
      assert.ok(err instanceof DataFormatError);
      assert.ok(
        err.message.startsWith(
          `${path}: column 'when' has Parquet type INT64 (TIMESTAMP_MILLIS), which distml cannot read`,
        ),
        err.message,
      );
      assert.match(err.message, /\(flatten nested columns, and store dates/);
      return true;
    });
  });

  test('a JSON column is refused', async () => {
    const path = await writeRaw([{ name: 'doc', data: [{ a: 1 }, { b: 2 }], type: 'JSON' }]);
    await assert.rejects(readParquet(path), /column 'doc' has Parquet type BYTE_ARRAY \(JSON\)/);
  });

  test('bytes that are not Parquet name the file and the fault', async () => {
    const path = tempPath();
    await writeFile(path, 'a,b\n1,2\n3,4\n');
    await assert.rejects(readParquet(path), (err: unknown) => {
      assert.ok(err instanceof DataFormatError);
      assert.ok(err.message.startsWith(`${path}: not a readable Parquet file: `), err.message);
      assert.match(err.message, /footer != PAR1/);
      return true;
    });
  });

  test('a truncated file is a DataFormatError', async () => {
    const good = tempPath();
    await writeParquet(good, hardFrame());
    const bytes = await readFile(good);
    const cut = tempPath();
    await writeFile(cut, bytes.subarray(0, bytes.length - 20));
    await assert.rejects(readParquet(cut), DataFormatError);
  });

  test('an empty file and a file without rows are EmptyDataError', async () => {
    const empty = tempPath();
    await writeFile(empty, '');
    await assert.rejects(readParquet(empty), (err: unknown) => {
      assert.ok(err instanceof EmptyDataError);
      assert.equal(err.message, `${empty} is empty (a Parquet file cannot have zero bytes)`);
      return true;
    });
    const noRows = await writeRaw([{ name: 'x', data: new Float64Array(0), type: 'DOUBLE' }]);
    await assert.rejects(readParquet(noRows), /has no data rows/);
  });
});
