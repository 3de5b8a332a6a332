import assert from 'node:assert/strict';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type RangeServer, startRangeServer } from '../../test/helpers/range-server.ts';
import { readCsv } from './csv-reader.ts';
import { readParquet, writeParquet } from './parquet.ts';
import { planSource, readSplit, splittableFormat } from './source.ts';

const DATA = fileURLToPath(new URL('../../data/', import.meta.url));
let dir: string;
let server: RangeServer;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'distml-source-'));
  server = await startRangeServer(DATA);
});
after(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

async function rowsOfSplits(location: string, partitions: number) {
  const plan = await planSource(location, { partitions });
  assert.equal(plan.splits.length, partitions);
  const rows: Record<string, unknown>[] = [];
  for (const split of plan.splits) rows.push(...(await readSplit(split)).toRecords());
  return rows;
}

test('Parquet splits hold whole row groups and give every row once, in order', async () => {
  const frame = await readCsv(join(DATA, 'loans.csv'));
  const path = join(dir, 'loans.parquet');
  await writeParquet(path, frame, { rowGroupSize: 700 }); // 5000 rows: 8 groups
  const want = (await readParquet(path)).toRecords();
  for (const p of [1, 2, 3, 5, 8, 11]) assert.deepEqual(await rowsOfSplits(path, p), want, `P=${p}`);
  const plan = await planSource(path, { partitions: 3 });
  for (const split of plan.splits) {
    assert.equal(split.format, 'parquet');
    if (split.format === 'parquet') assert.equal(split.rowStart % 700, 0, 'splits start at a row group');
  }
});

test('a CSV over http with Range support reads like the file', async () => {
  const want = (await readCsv(join(DATA, 'iris.csv'))).toRecords();
  const before = server.ranges();
  assert.deepEqual(await rowsOfSplits(`${server.url}/iris.csv`, 4), want);
  assert.ok(server.ranges() > before, 'the reads were Range requests');
});

test('a server that ignores Range is a clear error', async () => {
  await assert.rejects(
    planSource(`${server.url}/no-range/iris.csv`, { partitions: 2 }),
    /answered 200 OK, not 206 Partial Content \(the server does not support Range requests/,
  );
});

test('credentials in a URL become an Authorization header and never appear in messages', async () => {
  const want = (await readCsv(join(DATA, 'iris.csv'))).toRecords();
  const url = server.url.replace('http://', 'http://user:secret@');
  assert.deepEqual(await rowsOfSplits(`${url}/private/iris.csv`, 2), want);
  const wrong = server.url.replace('http://', 'http://user:wrong@');
  await assert.rejects(planSource(`${wrong}/private/iris.csv`, { partitions: 2 }), (err: Error) => {
    assert.match(err.message, /cannot read http:\/\/127\.0\.0\.1:\d+\/private\/iris\.csv: HEAD answered 401/);
    assert.doesNotMatch(err.message, /wrong|user/);
    return true;
  });
});

test('only CSV/TSV and Parquet can be split', () => {
  assert.equal(splittableFormat('a/b.tsv'), 'csv');
  assert.equal(splittableFormat('https://host/x.parquet?sig=1'), 'parquet');
  assert.throws(
    () => splittableFormat('rows.jsonl'),
    /--shared-data reads CSV\/TSV and Parquet files; rows\.jsonl is jsonl/,
  );
});

test('a file rewritten at the same size since planning is refused, from a path (mtime) and a URL (ETag)', async () => {
  const path = join(dir, 'rewritten.csv');
  await writeFile(path, 'a,y\n1,2\n3,4\n');
  await utimes(path, 1_700_000_000, 1_700_000_000);
  const local = await planSource(path, { partitions: 1 });
  assert.equal(local.splits[0]!.version, `mtime ${1_700_000_000n * 1_000_000_000n}`);
  const served = await startRangeServer(dir);
  try {
    const remote = await planSource(`${served.url}/rewritten.csv`, { partitions: 1 });
    assert.match(remote.splits[0]!.version, /^etag "18bcfe56800-c"$/);
    await writeFile(path, 'a,y\n5,6\n7,8\n');
    await utimes(path, 1_700_000_001, 1_700_000_001);
    await assert.rejects(
      readSplit(local.splits[0]!),
      /rewritten\.csv was rewritten after training started \(mtime 1700000000000000000 then, mtime 1700000001000000000 now\) \(the file changed during training/,
    );
    await assert.rejects(
      readSplit(remote.splits[0]!),
      /rewritten\.csv was rewritten after training started \(etag "18bcfe56800-c" then, etag "18bcfe56be8-c" now\)/,
    );
  } finally {
    await served.stop();
  }
});

test('a file that changed size since planning is refused', async () => {
  const plan = await planSource(join(DATA, 'iris.csv'), { partitions: 2 });
  const split = { ...plan.splits[1]!, size: plan.splits[1]!.size + 1 };
  await assert.rejects(
    readSplit(split),
    /iris\.csv is \d+ bytes now, but was \d+ bytes when training started/,
  );
});
