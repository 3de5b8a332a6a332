import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { UsageError } from '../errors.ts';
import { parseCsv, readCsv } from './csv-reader.ts';
import { csvChunks, frameToCsv, writeCsv } from './csv-writer.ts';
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

/** Compares two frames by values: category codes may legitimately differ in level order. */
function assertSameValues(actual: Frame, expected: Frame): void {
  assert.deepEqual(actual.names, expected.names);
  assert.equal(actual.rows, expected.rows);
  for (const e of expected.columns) {
    const a = actual.column(e.name);
    assert.equal(a.kind, e.kind, `kind of '${e.name}'`);
    if (e.kind === 'number') {
      assert.deepEqual((a as NumericColumn).values, e.values, `values of '${e.name}'`);
      continue;
    }
    const ac = a as CategoricalColumn;
    const ec: CategoricalColumn = e;
    for (let r = 0; r < expected.rows; r++) {
      const want = ec.codes[r] === -1 ? null : ec.levels[ec.codes[r]!];
      const got = ac.codes[r] === -1 ? null : ac.levels[ac.codes[r]!];
      assert.equal(got, want, `'${e.name}' row ${r}`);
    }
  }
}

describe('frameToCsv', () => {
  test('writes a header, shortest round-trip numbers, empty missing fields and \\n line ends', () => {
    const frame = Frame.fromRecord({
      x: Float64Array.from([0.1 + 0.2, -0, Number.NaN, 1e21, 5e-324]),
      s: ['a', null, 'b', 'a', 'c'],
    });
    assert.equal(frameToCsv(frame), 'x,s\n0.30000000000000004,a\n-0,\n,b\n1e+21,a\n5e-324,c\n');
  });

  test('quotes exactly the fields that hold the delimiter, a quote, CR or LF', () => {
    const frame = Frame.fromRecord({
      'a,b': ['plain', 'x,y', 'say "hi"', 'l\nf', 'c\rr', 'semi;colon', ' pad '],
    });
    assert.equal(frameToCsv(frame), '"a,b"\nplain\n"x,y"\n"say ""hi"""\n"l\nf"\n"c\rr"\nsemi;colon\n pad \n');
    assert.equal(
      frameToCsv(frame, { delimiter: ';' }),
      'a,b\nplain\nx,y\n"say ""hi"""\n"l\nf"\n"c\rr"\n"semi;colon"\n pad \n',
    );
  });

  test('a single-column frame writes "" for a missing value so the row is not a blank line', () => {
    const frame = Frame.fromRecord({ x: [1, null, 3] });
    assert.equal(frameToCsv(frame), 'x\n1\n""\n3\n');
    const back = parseCsv(frameToCsv(frame));
    assert.deepEqual((back.column('x') as NumericColumn).values, Float64Array.from([1, Number.NaN, 3]));
  });

  test('refuses a delimiter that is not one plain byte', () => {
    const frame = Frame.fromRecord({ x: [1] });
    for (const delimiter of ['', ';;', '"', '\n', '\r', '€']) {
      assert.throws(() => frameToCsv(frame, { delimiter }), UsageError, JSON.stringify(delimiter));
    }
  });
});

describe('csvChunks', () => {
  test('yields whole rows in chunks of about chunkChars that join to the full text', () => {
    const n = 10_000;
    const frame = new Frame([
      numericColumn(
        'v',
        Float64Array.from({ length: n }, (_, i) => i / 7),
      ),
      categoricalColumn(
        'c',
        Int32Array.from({ length: n }, (_, i) => i % 3),
        ['p', 'q,r', 's"t'],
      ),
    ]);
    const chunks = Array.from(csvChunks(frame, { chunkChars: 4096 }));
    assert.ok(chunks.length > 10, `${chunks.length} chunks`);
    for (const chunk of chunks) {
      assert.ok(chunk.endsWith('\n'));
      assert.ok(chunk.length < 4096 + 100, `chunk of ${chunk.length} chars`);
    }
    assert.equal(chunks.join(''), frameToCsv(frame));
  });
});

describe('writeCsv → readCsv', () => {
  test('round-trips numbers bit for bit and awkward categories', async () => {
    const frame = new Frame([
      numericColumn(
        'x',
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
      categoricalColumn('text, "quoted"', Int32Array.from([0, 1, 2, -1, 3, 4, 0, 5]), [
        'a,b',
        'say "hi"',
        'line\nbreak',
        'crlf\r\ninside',
        'ünïcødé 😀',
        'tab\there',
      ]),
      numericColumn('y', Float64Array.from([1, 2, 3, 4, 5, 6, 7, Number.NaN])),
    ]);
    const path = join(dir, 'round.csv');
    await writeCsv(path, frame);
    assertSameValues(await readCsv(path), frame);
    const tsv = join(dir, 'round.tsv');
    await writeCsv(tsv, frame, { delimiter: '\t' });
    assert.match(await readFile(tsv, 'utf8'), /"tab\there"/);
    assertSameValues(await readCsv(tsv, { delimiter: '\t' }), frame);
  });

  test('writes a large frame through chunks and leaves no temporary file', async () => {
    const n = 200_000;
    const d = 5;
    const columns = [];
    for (let j = 0; j < d; j++) {
      const v = new Float64Array(n);
      for (let i = 0; i < n; i++) v[i] = i % 97 === j ? Number.NaN : Math.sin(i * (j + 1)) * 1e3;
      columns.push(numericColumn(`f${j}`, v));
    }
    columns.push(
      categoricalColumn(
        'label',
        Int32Array.from({ length: n }, (_, i) => i % 4),
        ['w', 'x', 'y', 'z'],
      ),
    );
    const frame = new Frame(columns);
    const sub = join(dir, 'large');
    await mkdir(sub);
    const path = join(sub, 'large.csv');
    await writeCsv(path, frame);
    assert.deepEqual(await readdir(sub), ['large.csv']);
    assertSameValues(await readCsv(path), frame);
  });
});
