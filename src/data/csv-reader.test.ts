import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CsvFormatError, DataValueError, EmptyDataError, UsageError } from '../errors.ts';
import { parseCsv, readCsv } from './csv-reader.ts';

/** Records as plain objects (Frame.toRecords gives null-prototype ones). */
const plain = (records: object[]) => records.map((r) => ({ ...r }));

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'distml-csv-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('parseCsv', () => {
  test('infers numeric and categorical columns and reads missing values', () => {
    const f = parseCsv('a,b,c\n1,x,\n2.5,NA,3\nNaN,y,null\n', 't.csv');
    assert.deepEqual(
      f.schema.map((s) => [s.name, s.kind]),
      [
        ['a', 'number'],
        ['b', 'category'],
        ['c', 'number'],
      ],
    );
    assert.deepEqual(plain(f.toRecords()), [
      { a: 1, b: 'x', c: null },
      { a: 2.5, b: null, c: 3 },
      { a: null, b: 'y', c: null },
    ]);
  });

  test('RFC 4180 quoting: delimiters, doubled quotes and line breaks inside fields, CRLF, BOM', () => {
    const text = '\uFEFFid,text\r\n1,"a, b"\r\n2,"say ""hi"""\r\n3,"two\nlines"\r\n';
    const f = parseCsv(text, 'q.csv');
    assert.deepEqual(f.names, ['id', 'text']);
    assert.deepEqual(
      f.toRecords().map((r) => r.text),
      ['a, b', 'say "hi"', 'two\nlines'],
    );
  });

  test('a chosen delimiter', () => {
    const f = parseCsv('a;b\n1,5;x\n', 's.csv', { delimiter: ';' });
    assert.deepEqual(plain(f.toRecords()), [{ a: '1,5', b: 'x' }]);
  });

  test('a numeric column meeting text becomes categorical, keeping earlier values as text', () => {
    const f = parseCsv('z\n1\n2\nabc\n\n', 'p.csv');
    const c = f.column('z');
    assert.equal(c.kind, 'category');
    assert.deepEqual(
      f.toRecords().map((r) => r.z),
      ['1', '2', 'abc'],
    );
  });

  test('--categorical keeps numeric-looking columns as categories', () => {
    const f = parseCsv('zip,v\n01234,1\n99,2\n', 'c.csv', { categorical: ['zip'] });
    assert.deepEqual(
      f.toRecords().map((r) => r.zip),
      ['01234', '99'],
    );
  });

  test('blank lines are skipped and do not shift line numbers in errors', () => {
    assert.throws(() => parseCsv('a,b\n\n1,2\n\n3\n', 'gap.csv'), {
      name: 'CsvFormatError',
      message: /^gap\.csv:5:2: expected 2 fields like the header, got 1/,
    });
  });

  test('errors name file, line and column', () => {
    const cases: Array<[string, RegExp, new (...a: never[]) => Error]> = [
      ['a,b\n1,2,3\n', /^bad\.csv:2:\d+: expected 2 fields like the header, got 3 or more/, CsvFormatError],
      ['a,b\n1,2\n3,"open\n', /^bad\.csv:3:3: unclosed quote/, CsvFormatError],
      ['a,b\n1,"x"y\n', /^bad\.csv:2:6: unexpected character "y" after a closing quote/, CsvFormatError],
      ['a,b\n1,inf\n', /^bad\.csv:2:3: infinite value 'inf' in numeric column 'b'/, DataValueError],
      ['a,a\n1,2\n', /^bad\.csv:1:1: duplicate column name 'a'/, CsvFormatError],
      ['', /^bad\.csv is empty/, EmptyDataError],
      ['a,b\n', /^bad\.csv has a header but no data rows/, EmptyDataError],
    ];
    for (const [text, message, type] of cases) {
      assert.throws(
        () => parseCsv(text, 'bad.csv'),
        (err: Error) => {
          assert.ok(err instanceof type, `${JSON.stringify(text)} threw ${err.name}`);
          assert.match(err.message, message);
          return true;
        },
      );
    }
  });

  test('a bad delimiter is a usage error', () => {
    assert.throws(() => parseCsv('a\n1\n', 'x.csv', { delimiter: '""' }), UsageError);
  });
});

describe('readCsv', () => {
  test('records that straddle chunk boundaries read the same as in one piece', async () => {
    const lines = ['n,s,v'];
    for (let i = 0; i < 2000; i++) lines.push(`${i},"q ""${i % 7}"", x\r\ny",${(i * 0.37).toFixed(3)}`);
    const text = `${lines.join('\r\n')}\r\n`;
    const path = join(dir, 'chunks.csv');
    await writeFile(path, text);
    const whole = parseCsv(text, path);
    for (const chunkBytes of [7, 64, 1000, 4096]) {
      const f = await readCsv(path, { chunkBytes });
      assert.equal(f.rows, 2000);
      assert.deepEqual(f.toRecords(1995), whole.toRecords(1995), `chunkBytes=${chunkBytes}`);
      const v = f.column('v');
      assert.ok(v.kind === 'number');
      assert.deepEqual(v.values, (whole.column('v') as typeof v).values);
    }
  });

  test('numeric files: the fast record path gives the values Number() gives, and leaves every odd record to the general one', async () => {
    // ~150 KB, past the 64 KiB smallest buffer: records cut by chunk ends, CRLF and LF lines,
    // missing values, a blank line, and a column that turns categorical late in the file.
    const lines = ['a,b,c'];
    for (let i = 0; i < 6000; i++) {
      const b = i % 97 === 0 ? '' : (i * 1.0000001).toPrecision(17);
      const c = i === 5000 ? 'text' : `${-i}e-3`;
      lines.push(`${(i / 7).toFixed(i % 18)},${b},${c}${i % 5 === 0 ? '\r' : ''}`);
      if (i === 3001) lines.push('');
    }
    const text = `${lines.join('\n')}\n`;
    const path = join(dir, 'numeric.csv');
    await writeFile(path, text);
    const f = await readCsv(path, { chunkBytes: 64 * 1024 });
    const rows = lines
      .slice(1)
      .filter((l) => l !== '')
      .map((l) => l.replace('\r', '').split(','));
    assert.equal(f.rows, rows.length);
    const a = f.column('a');
    const b = f.column('b');
    const c = f.column('c');
    assert.ok(a.kind === 'number' && b.kind === 'number' && c.kind === 'category');
    rows.forEach(([x, y, z], r) => {
      assert.ok(Object.is(a.values[r], Number(x)), `a of row ${r}`);
      assert.ok(y === '' ? Number.isNaN(b.values[r]!) : Object.is(b.values[r], Number(y)), `b of row ${r}`);
      // Values read before the column turned categorical become their String() forms; after, the text.
      assert.equal(c.levels[c.codes[r]!], r < 5000 ? String(Number(z)) : z, `c of row ${r}`);
    });
    await writeFile(path, 'a,b\n1,2\n3,4,5\n');
    await assert.rejects(readCsv(path), /numeric\.csv:3:6: expected 2 fields like the header, got 3 or more/);
  });

  test('reads the bundled loans data: quoted comma in a category, missing values', async () => {
    const f = await readCsv(new URL('../../data/loans.csv', import.meta.url).pathname);
    assert.equal(f.rows, 5000);
    const region = f.column('region');
    assert.equal(region.kind, 'category');
    assert.ok(region.levels.includes('central, metro'));
    assert.equal(f.column('income').kind, 'number');
    assert.deepEqual(plain(f.toRecords(0, 1))[0], {
      age: 76,
      income: 10278.59,
      region: 'west',
      employment: 'salaried',
      debt_ratio: 0.3578,
      years_at_job: 13.5,
      defaulted: 'yes',
    });
  });

  test('an unclosed quote in a long file stops at the record limit with a clear error', async () => {
    const path = join(dir, 'unclosed.csv');
    await writeFile(path, `a,b\n1,"never closed\n${'2,3\n'.repeat(50000)}`);
    await assert.rejects(readCsv(path, { chunkBytes: 1024, maxRecordBytes: 4096 }), {
      name: 'CsvFormatError',
      message: /unclosed\.csv:2:1: record longer than/,
    });
  });

  test('a missing file names the path', async () => {
    await assert.rejects(readCsv(join(dir, 'nope.csv')), {
      message: /cannot read .*nope\.csv: no such file/,
    });
  });
});
