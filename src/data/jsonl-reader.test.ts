import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  ColumnNotFoundError,
  DataFormatError,
  DataValueError,
  DistmlError,
  EmptyDataError,
} from '../errors.ts';
import type { CategoricalColumn, NumericColumn } from './frame.ts';
import { readJsonLines } from './jsonl-reader.ts';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'distml-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes `text` to a fresh file in the test directory and returns its path. */
let counter = 0;
async function fixture(text: string | Buffer): Promise<string> {
  const path = join(dir, `f${counter++}.jsonl`);
  await writeFile(path, text);
  return path;
}

describe('readJsonLines', () => {
  test('takes the union of keys in first-seen order; absent keys and null are missing', async () => {
    const path = await fixture(
      '{"a": 1, "b": "x"}\n{"b": "y", "c": true}\n{"a": 2.5, "c": false, "b": null}\n',
    );
    const frame = await readJsonLines(path);
    assert.deepEqual(frame.names, ['a', 'b', 'c']);
    assert.equal(frame.rows, 3);
    const a = frame.column('a') as NumericColumn;
    assert.ok(a.values instanceof Float64Array);
    assert.deepEqual(Array.from(a.values), [1, Number.NaN, 2.5]);
    const b = frame.column('b') as CategoricalColumn;
    assert.equal(b.kind, 'category');
    assert.deepEqual(b.levels, ['x', 'y']);
    assert.deepEqual(Array.from(b.codes), [0, 1, -1]);
    const c = frame.column('c') as NumericColumn;
    assert.deepEqual(Array.from(c.values), [Number.NaN, 1, 0]);
  });

  test('a column mixing numbers and strings becomes categorical with String(n) levels', async () => {
    const path = await fixture('{"v": 1}\n{"v": 0.1}\n{"v": "seven"}\n{"v": 1e21}\n{"v": 1}\n{"v": true}\n');
    const v = (await readJsonLines(path)).column('v') as CategoricalColumn;
    assert.equal(v.kind, 'category');
    assert.deepEqual(v.levels, ['1', '0.1', 'seven', '1e+21']);
    assert.deepEqual(Array.from(v.codes), [0, 1, 2, 3, 0, 0]);
  });

  test('missing-value tokens are missing and do not make a column categorical', async () => {
    const path = await fixture(
      '{"x": 1, "s": "NA"}\n{"x": "NA", "s": ""}\n{"x": "", "s": "ok"}\n{"x": "null", "s": "N/A"}\n',
    );
    const frame = await readJsonLines(path);
    const x = frame.column('x') as NumericColumn;
    assert.equal(x.kind, 'number');
    assert.deepEqual(Array.from(x.values), [1, Number.NaN, Number.NaN, Number.NaN]);
    const s = frame.column('s') as CategoricalColumn;
    assert.deepEqual(s.levels, ['ok']);
    assert.deepEqual(Array.from(s.codes), [-1, -1, 0, -1]);
  });

  test('skips blank lines, reads CRLF line ends, a byte-order mark and a last line without a newline', async () => {
    const path = await fixture('\uFEFF{"a": 1}\r\n\r\n   \n{"a": 2}\n\n{"a": 3}');
    const a = (await readJsonLines(path)).column('a') as NumericColumn;
    assert.deepEqual(Array.from(a.values), [1, 2, 3]);
  });

  test('keeps unicode text whole across read chunks', async () => {
    // Each line is ~40 bytes of 2- and 4-byte characters; 40,000 lines cross many 1 MiB chunks.
    const word = 'ü€😀';
    const lines: string[] = [];
    for (let i = 0; i < 40000; i++) lines.push(JSON.stringify({ i, w: `${word}${i % 7}`, q: 'a"b,c\nd' }));
    const frame = await readJsonLines(await fixture(`${lines.join('\n')}\n`));
    assert.equal(frame.rows, 40000);
    const w = frame.column('w') as CategoricalColumn;
    assert.deepEqual(
      w.levels,
      Array.from({ length: 7 }, (_, k) => `${word}${k}`),
    );
    for (let r = 0; r < frame.rows; r++) assert.equal(w.codes[r], r % 7);
    assert.deepEqual((frame.column('q') as CategoricalColumn).levels, ['a"b,c\nd']);
    assert.equal(frame.value(39999, 'i'), 39999);
  });

  test('grows storage past its first capacity, with late columns and late promotion', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 5000; i++) {
      const rec: Record<string, unknown> = { i };
      if (i >= 3000) rec.late = i * 2;
      rec.p = i === 4000 ? 'text' : i;
      lines.push(JSON.stringify(rec));
    }
    const frame = await readJsonLines(await fixture(lines.join('\n')));
    assert.deepEqual(frame.names, ['i', 'p', 'late']);
    const late = frame.column('late') as NumericColumn;
    assert.equal(late.values.length, 5000);
    assert.ok(Number.isNaN(late.values[2999]!));
    assert.equal(late.values[3000], 6000);
    assert.equal(late.values[4999], 9998);
    const p = frame.column('p') as CategoricalColumn;
    assert.equal(p.kind, 'category');
    assert.equal(frame.value(3999, 'p'), '3999');
    assert.equal(frame.value(4000, 'p'), 'text');
    assert.equal(frame.value(4999, 'p'), '4999');
  });

  test('options.columns selects and orders keys, skipping the others unchecked', async () => {
    const path = await fixture('{"a": 1, "b": 2, "nested": {"x": 1}}\n{"b": 3, "a": 4}\n');
    const frame = await readJsonLines(path, { columns: ['b', 'a'] });
    assert.deepEqual(frame.names, ['b', 'a']);
    assert.deepEqual(Array.from((frame.column('a') as NumericColumn).values), [1, 4]);
  });

  test('options.columns naming an absent key throws ColumnNotFoundError with a suggestion', async () => {
    const path = await fixture('{"price": 1, "qty": 2}\n');
    await assert.rejects(readJsonLines(path, { columns: ['qty', 'prise'] }), (err: unknown) => {
      assert.ok(err instanceof ColumnNotFoundError);
      assert.match(err.message, /no key 'prise' in any record of .*f\d+\.jsonl/);
      assert.match(err.message, /did you mean 'price'\?/);
      return true;
    });
  });

  test('malformed JSON names the file and the line', async () => {
    const path = await fixture('{"a": 1}\n\n{"a": 2,}\n{"a": 3}\n');
    await assert.rejects(readJsonLines(path), (err: unknown) => {
      assert.ok(err instanceof DataFormatError);
      assert.equal(err.code, 'DATA_FORMAT');
      assert.ok(err.message.startsWith(`${path}:3: invalid JSON (`), err.message);
      return true;
    });
  });

  test('a nested value names the file, line and key', async () => {
    const path = await fixture('{"a": 1}\n{"a": 2, "tags": ["x", "y"]}\n');
    await assert.rejects(readJsonLines(path), (err: unknown) => {
      assert.ok(err instanceof DataFormatError);
      assert.ok(err.message.startsWith(`${path}:2: key 'tags' holds a nested array`), err.message);
      return true;
    });
    const obj = await fixture('{"a": {"b": 1}}\n');
    await assert.rejects(readJsonLines(obj), (err: unknown) => {
      assert.ok(err instanceof DataFormatError);
      assert.ok(err.message.startsWith(`${obj}:1: key 'a' holds a nested object`), err.message);
      return true;
    });
  });

  test('a number that overflows a double is a DataValueError naming the line and key', async () => {
    const path = await fixture('{"x": 1}\n{"x": -1e400}\n');
    await assert.rejects(readJsonLines(path), (err: unknown) => {
      assert.ok(err instanceof DataValueError);
      assert.ok(
        err.message.startsWith(`${path}:2: key 'x' holds a number too large for a double`),
        err.message,
      );
      return true;
    });
  });

  test('a line that is JSON but not an object is refused', async () => {
    const path = await fixture('{"a": 1}\n[1, 2]\n');
    await assert.rejects(readJsonLines(path), (err: unknown) => {
      assert.ok(err instanceof DataFormatError);
      assert.ok(err.message.startsWith(`${path}:2: expected a JSON object, got an array`), err.message);
      return true;
    });
    await assert.rejects(readJsonLines(await fixture('42\n')), /:1: expected a JSON object, got 42/);
  });

  test('an empty file, or one with only blank lines, throws EmptyDataError naming the file', async () => {
    for (const text of ['', '\n\n  \r\n']) {
      const path = await fixture(text);
      await assert.rejects(readJsonLines(path), (err: unknown) => {
        assert.ok(err instanceof EmptyDataError);
        assert.equal(err.code, 'DATA_EMPTY');
        assert.ok(err.message.includes(path), err.message);
        return true;
      });
    }
    await assert.rejects(readJsonLines(await fixture('{}\n{}\n')), EmptyDataError);
  });

  test('a missing file is a FILE_IO error naming the path', async () => {
    const path = join(dir, 'nope.jsonl');
    await assert.rejects(readJsonLines(path), (err: unknown) => {
      assert.ok(err instanceof DistmlError);
      assert.equal(err.code, 'FILE_IO');
      assert.equal(err.message, `cannot read ${path}: no such file`);
      return true;
    });
  });
});
