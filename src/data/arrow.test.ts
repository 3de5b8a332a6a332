import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  Field as ArrowField,
  Bool,
  Dictionary,
  Float16,
  Float32,
  Int8,
  Int16,
  Int64,
  List,
  Null,
  Table,
  TimestampMillisecond,
  tableFromIPC,
  tableToIPC,
  Uint32,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import { DataFormatError, DataValueError, EmptyDataError } from '../errors.ts';
import { readArrow, writeArrow } from './arrow.ts';
import {
  type CategoricalColumn,
  categoricalColumn,
  Frame,
  type NumericColumn,
  numericColumn,
} from './frame.ts';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'distml-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let counter = 0;
function tempPath(): string {
  return join(dir, `f${counter++}.arrow`);
}

async function writeTable(table: Table, format: 'file' | 'stream' = 'file'): Promise<string> {
  const path = tempPath();
  await writeFile(path, tableToIPC(table, format));
  return path;
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

/** Signed zero, subnormals, extremes and missing values; strings that need care; an unused level. */
function hardFrame(): Frame {
  return new Frame([
    numericColumn(
      '1',
      Float64Array.from([
        0.1 + 0.2,
        -0,
        Number.NaN,
        5e-324,
        Number.MAX_VALUE,
        -Number.MIN_VALUE,
        2 ** 53,
        1 / 3,
      ]),
    ),
    categoricalColumn('text', Int32Array.from([0, 1, 2, -1, 3, 4, 0, -1]), [
      'a,b',
      'say "hi"',
      'line\nbreak\r\n',
      'ünïcødé 😀',
      '',
      'never used',
    ]),
    numericColumn('0', Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8])),
  ]);
}

describe('writeArrow → readArrow', () => {
  for (const format of ['file', 'stream'] as const) {
    test(`round-trips the ${format} format with identical codes, levels and bits`, async () => {
      const path = tempPath();
      const frame = hardFrame();
      await writeArrow(path, frame, { format });
      assertSameFrame(await readArrow(path), frame);
    });
  }

  test('writes Float64 with nulls for NaN and Dictionary<Int32, Utf8> for categories', async () => {
    const path = tempPath();
    await writeArrow(path, hardFrame());
    const table = tableFromIPC(await readFile(path));
    assert.deepEqual(
      table.schema.fields.map((f) => [f.name, String(f.type)]),
      [
        ['1', 'Float64'],
        ['text', 'Dictionary<Int32, Utf8>'],
        ['0', 'Float64'],
      ],
    );
    assert.equal(table.getChild('1')!.get(2), null);
    assert.equal(table.getChild('text')!.get(3), null);
    assert.equal(table.getChild('text')!.get(2), 'line\nbreak\r\n');
  });

  test('round-trips a zero-copy slice', async () => {
    const frame = hardFrame().slice(2, 7);
    const path = tempPath();
    await writeArrow(path, frame);
    assertSameFrame(await readArrow(path), frame);
  });
});

describe('readArrow', () => {
  test('reads integer, float, boolean, null, string and dictionary columns with nulls', async () => {
    const table = new Table({
      i8: vectorFromArray([1, null, -3, 4], new Int8()),
      u32: vectorFromArray([4294967295, 0, null, 1], new Uint32()),
      i64: vectorFromArray([2n ** 53n, null, -(2n ** 53n), 5n], new Int64()),
      f16: vectorFromArray([1.5, null, -2, 0.25], new Float16()),
      f32: vectorFromArray([0.5, -1.25, null, 3], new Float32()),
      flag: vectorFromArray([true, false, null, true], new Bool()),
      none: vectorFromArray([null, null, null, null], new Null()),
      name: vectorFromArray(['b', null, 'a', 'b'], new Utf8()),
      dict: vectorFromArray(['y', 'x', null, 'y'], new Dictionary(new Utf8(), new Int16())),
    });
    const frame = await readArrow(await writeTable(table));
    const num = (name: string) => Array.from((frame.column(name) as NumericColumn).values);
    assert.deepEqual(num('i8'), [1, Number.NaN, -3, 4]);
    assert.deepEqual(num('u32'), [4294967295, 0, Number.NaN, 1]);
    assert.deepEqual(num('i64'), [2 ** 53, Number.NaN, -(2 ** 53), 5]);
    assert.deepEqual(num('f16'), [1.5, Number.NaN, -2, 0.25]);
    assert.deepEqual(num('f32'), [0.5, -1.25, Number.NaN, 3]);
    assert.deepEqual(num('flag'), [1, 0, Number.NaN, 1]);
    assert.deepEqual(num('none'), [Number.NaN, Number.NaN, Number.NaN, Number.NaN]);
    assert.deepEqual(
      frame.toRecords().map((r) => [r.name, r.dict]),
      [
        ['b', 'y'],
        [null, 'x'],
        ['a', null],
        ['b', 'y'],
      ],
    );
  });

  test('merges the dictionaries of several record batches in a stream', async () => {
    const a = new Table({ c: vectorFromArray(['x', 'y', null], new Dictionary(new Utf8(), new Int8())) });
    const b = new Table({ c: vectorFromArray(['z', 'x'], new Dictionary(new Utf8(), new Int8())) });
    const frame = await readArrow(await writeTable(a.concat(b), 'stream'));
    const c = frame.column('c') as CategoricalColumn;
    assert.deepEqual(c.levels, ['x', 'y', 'z']);
    assert.deepEqual(Array.from(c.codes), [0, 1, -1, 2, 0]);
  });

  test('an Int64 beyond 2^53 is a DataValueError naming the column and row', async () => {
    const path = await writeTable(new Table({ id: vectorFromArray([1n, -(2n ** 53n) - 1n], new Int64()) }));
    await assert.rejects(readArrow(path), (err: unknown) => {
      assert.ok(err instanceof DataValueError);
      assert.match(err.message, /column 'id' row 2: integer -9007199254740993 is beyond ±2\^53/);
      return true;
    });
  });

  test('an unsupported type names the column and the type, with a hint', async () => {
    const when = vectorFromArray([new Date(0), new Date(1)], new TimestampMillisecond());
    const path = await writeTable(new Table({ x: vectorFromArray([1, 2]), when }));
    await assert.rejects(readArrow(path), (err: unknown) => {
      assert.ok(err instanceof DataFormatError);
      assert.equal(err.code, 'DATA_FORMAT');
      assert.ok(
        err.message.startsWith(
          `${path}: column 'when' has Arrow type Timestamp<MILLISECOND>, which distml cannot read`,
        ),
        err.message,
      );
      assert.match(err.hint ?? '', /cast it to Float64/);
      return true;
    });
    const list = vectorFromArray([[1], [2, 3]], new List(new ArrowField('item', new Float32(), true)));
    await assert.rejects(
      readArrow(await writeTable(new Table({ tags: list }))),
      /column 'tags' has Arrow type List<Float32>/,
    );
  });

  test('bytes that are not Arrow IPC name the file and the fault', async () => {
    const path = tempPath();
    await writeFile(path, '{"a": 1}\n{"a": 2}\n');
    await assert.rejects(readArrow(path), (err: unknown) => {
      assert.ok(err instanceof DataFormatError);
      assert.ok(err.message.startsWith(`${path}: not a readable Arrow IPC file or stream: `), err.message);
      return true;
    });
  });

  test('an empty file and a table without rows are EmptyDataError', async () => {
    const empty = tempPath();
    await writeFile(empty, '');
    await assert.rejects(readArrow(empty), (err: unknown) => {
      assert.ok(err instanceof EmptyDataError);
      assert.ok(err.message.startsWith(`${empty} is empty`), err.message);
      return true;
    });
    const noRows = await writeTable(new Table({ x: vectorFromArray(new Float64Array(0)) }));
    await assert.rejects(readArrow(noRows), /has no data rows/);
  });
});
