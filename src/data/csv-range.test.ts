import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memorySource } from './byte-source.ts';
import { byteRanges, csvLayout, rangeRowPosition, readCsvRange, readCsvRangeKeyed } from './csv-range.ts';
import { parseCsv } from './csv-reader.ts';

const ROWS = [
  'x,region,y',
  '1.5,west,0',
  '2,"central, metro",1',
  ',east,0',
  '-3e2,west,1',
  '7,,1',
  '0.25,"say ""hi""",0',
  '12,east,1',
];

/** Every row of `text` read range by range, in range order. */
async function rowsByRanges(text: string, ranges: ReadonlyArray<[number, number]>) {
  const source = memorySource(Buffer.from(text));
  const layout = await csvLayout(source, ',');
  const out: Record<string, unknown>[] = [];
  for (const [a, b] of ranges) out.push(...(await readCsvRange(source, layout, a, b)).toRecords());
  return out;
}

const variants: Record<string, string> = {
  'LF, trailing newline': `${ROWS.join('\n')}\n`,
  'LF, no trailing newline': ROWS.join('\n'),
  'CRLF, trailing newline': `${ROWS.join('\r\n')}\r\n`,
  'CRLF, no trailing newline': ROWS.join('\r\n'),
  'blank lines and a BOM': `\ufeff${ROWS.slice(0, 4).join('\n')}\n\n${ROWS.slice(4).join('\n')}\n\n`,
};

for (const [name, text] of Object.entries(variants)) {
  test(`CSV byte ranges give every row once, in order (${name})`, async () => {
    const want = parseCsv(text).toRecords();
    const size = Buffer.byteLength(text);
    // P = 1..13 equal ranges: small files give empty ranges and ranges inside the header.
    for (let p = 1; p <= 13; p++)
      assert.deepEqual(await rowsByRanges(text, byteRanges(size, p)), want, `P=${p}`);
    // A cut at every byte: on \n, between \r and \n, inside the header, inside quotes.
    for (let cut = 0; cut <= size; cut++) {
      assert.deepEqual(
        await rowsByRanges(text, [
          [0, cut],
          [cut, size],
        ]),
        want,
        `cut at ${cut}`,
      );
    }
  });
}

test('an empty range and a header-only file give no rows', async () => {
  const text = 'a,b\n1,2\n';
  assert.deepEqual(await rowsByRanges(text, [[2, 3]]), []);
  assert.deepEqual(await rowsByRanges('a,b\n', byteRanges(4, 3)), []);
});

test('the layout takes kinds from the head sample and honours --categorical', async () => {
  const source = memorySource(Buffer.from(`${ROWS.join('\n')}\n`));
  const layout = await csvLayout(source, ',', ['y']);
  assert.deepEqual(layout.columns, [
    { name: 'x', kind: 'number' },
    { name: 'region', kind: 'category' },
    { name: 'y', kind: 'category' },
  ]);
  assert.equal(layout.dataStart, 'x,region,y\n'.length);
  const frame = await readCsvRange(source, layout, 0, layout.size);
  assert.deepEqual(frame.column('y').kind, 'category');
});

test('text in a column the sample read as numeric names the column, the range and --categorical', async () => {
  const text = 'id,v\n1,2\n2,3\nA7,4\n';
  const source = memorySource(Buffer.from(text), 'ids.csv');
  const layout = {
    ...(await csvLayout(source, ',')),
    columns: [
      { name: 'id', kind: 'number' as const },
      { name: 'v', kind: 'number' as const },
    ],
  };
  await assert.rejects(
    readCsvRange(source, layout, 12, text.length),
    /ids\.csv \(range from byte 13; line 1 = the header\):2:1: column 'id' holds text 'A7'.*--categorical id/,
  );
});

test('a quoted field with a line break is refused with the byte offset of its line', async () => {
  const text = 'a,b\n1,"two\nlines"\n3,4\n';
  const source = memorySource(Buffer.from(text), 'notes.csv');
  await assert.rejects(
    csvLayout(source, ','),
    /notes\.csv: the line at byte 4 has a quoted field that continues/,
  );
  const layout = { delimiter: ',', columns: [], dataStart: 4, size: text.length };
  await assert.rejects(
    readCsvRange(source, layout, 10, text.length),
    /the line at byte 11 has a quoted field/,
  );
});

test("rangeRowPosition names the line (header = 1, blank lines counted) and byte column of a row's field", async () => {
  // Every field holds a token naming its row and column, so a position can be checked by reading
  // the text at it: line LINE of (header + the file from the range's first byte), byte COLUMN.
  const lines = ['a,b,c'];
  for (let r = 0; r < 9; r++) lines.push(r === 4 ? `r4a,"r4b, quoted",r4c` : `r${r}a,r${r}b,r${r}c`);
  lines.splice(3, 0, '');
  lines.splice(7, 0, '\r');
  const text = `${lines.join('\n')}\n`;
  const source = memorySource(Buffer.from(text));
  const layout = await csvLayout(source, ',');
  const header = text.slice(0, text.indexOf('\n') + 1);
  for (const p of [1, 2, 3, 5]) {
    // Data rows before the range: data row r of the file holds the tokens r<r>a, r<r>b, r<r>c.
    let before = 0;
    for (const [a, b] of byteRanges(text.length, p)) {
      const rows = (await readCsvRange(source, layout, a, b)).rows;
      for (let row = 0; row < rows; row++) {
        for (let field = 0; field < 3; field++) {
          const at = await rangeRowPosition(source, layout, a, b, row, field);
          const m = /^<memory> \(range from byte (\d+); line 1 = the header\):(\d+):(\d+)$/.exec(at);
          assert.ok(m !== null, at);
          const shown = `${header}${text.slice(Number(m[1]))}`.split('\n')[Number(m[2]) - 1]!;
          const token = shown.slice(Number(m[3]) - 1).replace(/^"/, '');
          assert.ok(token.startsWith(`r${before + row}${'abc'[field]}`), `${at}: '${shown}'`);
        }
      }
      before += rows;
    }
  }
});

test('a carriage return without a line feed is refused with its byte offset, with or without quotes in the range', async () => {
  for (const [text, at] of [
    ['a,b\n1,2\n3,4\r5,6\n', 11],
    ['a,b\n1,"2"\n3,4\r5,6\n', 13],
  ] as const) {
    const source = memorySource(Buffer.from(text), 'old-mac.csv');
    const layout = { delimiter: ',', columns: [], dataStart: 4, size: text.length };
    await assert.rejects(
      readCsvRange(source, layout, 4, text.length),
      new RegExp(`old-mac\\.csv: a carriage return without a line feed at byte ${at}: old Mac line breaks`),
    );
  }
});

/** A CSV of `rows` rows, larger than the readers' smallest buffer (64 KiB) once rows pass ~3,000. */
function longCsv(rows: number, eol: string): string {
  const lines = ['x,region,note,y'];
  for (let r = 0; r < rows; r++) {
    lines.push(`${(r * 0.37).toFixed(r % 7)},${['west', 'east', ''][r % 3]},"n ${r}, ""q""",${r % 2}`);
    if (r % 997 === 0) lines.push(''); // blank lines, some on chunk boundaries maybe
  }
  return `${lines.join(eol)}${eol}`;
}

/** Offsets of the file's non-blank data lines: the keys a range read must give. */
function dataLineStarts(text: string): number[] {
  const out: number[] = [];
  let pos = text.indexOf('\n') + 1;
  while (pos < text.length) {
    const next = text.indexOf('\n', pos);
    if (text[pos] !== '\n' && text[pos] !== '\r') out.push(pos);
    pos = next < 0 ? text.length : next + 1;
  }
  return out;
}

test('ranges larger than the read buffer stream in chunks: every row once, keyed by its line start', async () => {
  for (const eol of ['\n', '\r\n']) {
    const text = longCsv(12_000, eol); // ~400 KB, ASCII: characters are bytes
    const source = memorySource(Buffer.from(text));
    const layout = await csvLayout(source, ',');
    const want = parseCsv(text).toRecords();
    const starts = dataLineStarts(text);
    for (const p of [1, 2, 5]) {
      const rows: Record<string, unknown>[] = [];
      const keys: number[] = [];
      for (const [a, b] of byteRanges(text.length, p)) {
        const read = await readCsvRangeKeyed(source, layout, a, b, { chunkBytes: 64 * 1024 });
        rows.push(...read.frame.toRecords());
        keys.push(...read.keys);
      }
      assert.deepEqual(rows, want, `P=${p}, ${JSON.stringify(eol)}`);
      assert.deepEqual(keys, starts, `P=${p}, ${JSON.stringify(eol)}`);
    }
  }
});

test('a quoted line break or a lone CR past the first chunk is refused at its byte offset', async () => {
  const text = longCsv(6_000, '\n');
  const layout = await csvLayout(memorySource(Buffer.from(text)), ',');
  /** `text` with `line` inserted at offset `at`, read from byte `from` in 64 KiB chunks. */
  const refused = (name: string, at: number, line: string, from: number, message: string) => {
    const bad = `${text.slice(0, at)}${line}\n${text.slice(at)}`;
    const source = memorySource(Buffer.from(bad), name);
    return assert.rejects(
      readCsvRange(source, { ...layout, size: bad.length }, from, bad.length, { chunkBytes: 64 * 1024 }),
      new RegExp(`${name.replace('.', '\\.')}: ${message}`),
    );
  };
  const cut = text.indexOf('\n', 150_000) + 1; // a line start past two 64 KiB chunks
  await refused(
    'q.csv',
    cut,
    '1,west,"two\nlines",0',
    1000,
    `the line at byte ${cut} has a quoted field that continues`,
  );
  await refused(
    'cr.csv',
    cut,
    '1,west,a\rb,0',
    1000,
    `a carriage return without a line feed at byte ${cut + 8}`,
  );
  // The same in the unfinished last line of the first chunk, which the parser would otherwise end
  // at the CR. Read from the file's start, the stream's offsets are the file's.
  const early = text.lastIndexOf('\n', 65_000) + 1;
  const cr = 64 * 1024 - 3;
  await refused(
    'cr.csv',
    early,
    `1,west,${'a'.repeat(cr - early - 7)}\rb,0`,
    0,
    `a carriage return without a line feed at byte ${cr}`,
  );
});
