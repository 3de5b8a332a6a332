import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type RangeServer, startRangeServer } from '../../test/helpers/range-server.ts';
import { type ByteSource, memorySource, openByteSource } from './byte-source.ts';

let dir: string;
let server: RangeServer;
// 3 MB of bytes that differ from place to place, so a misplaced piece shows.
const bytes = Buffer.alloc(3_000_003);
for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + (i >> 9)) & 255;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'distml-bytes-'));
  await writeFile(join(dir, 'blob.bin'), bytes);
  server = await startRangeServer(dir);
});
after(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Bytes [start, end) of `source` through its stream, `step` bytes asked for at a time. */
async function streamed(source: ByteSource, start: number, end: number, step: number): Promise<Buffer> {
  const out = Buffer.alloc(end - start + 10);
  const stream = source.stream(start, end);
  let at = 0;
  try {
    for (let n = await stream.readInto(out, at, step); n > 0; n = await stream.readInto(out, at, step)) {
      assert.ok(n <= step, 'never more than asked for');
      at += n;
    }
  } finally {
    await stream.close();
  }
  return out.subarray(0, at);
}

test('a stream gives exactly bytes [start, end) of a file, a URL and memory, in any step', async () => {
  const sources = [
    openByteSource(join(dir, 'blob.bin')),
    openByteSource(`${server.url}/blob.bin`),
    memorySource(bytes),
  ];
  for (const source of sources) {
    for (const [start, end, step] of [
      [0, bytes.length, 1 << 20],
      [7, 2_500_001, 65_537],
      [1_000_000, 1_000_001, 5],
      [2_999_000, 9_000_000, 333], // past the end: clamped to it
      [500, 500, 10],
    ] as const) {
      const got = await streamed(source, start, end, step);
      assert.ok(
        got.equals(bytes.subarray(start, Math.min(end, bytes.length))),
        `${source.location} ${start}-${end}/${step}`,
      );
    }
  }
});

test('a stream closed before its end lets go, and a server ignoring Range is refused', async () => {
  const stream = openByteSource(`${server.url}/blob.bin`).stream(0, bytes.length);
  const part = Buffer.alloc(100);
  assert.equal(await stream.readInto(part, 0, 100), 100);
  assert.ok(part.equals(bytes.subarray(0, 100)));
  await stream.close();
  await stream.close();
  const ignored = openByteSource(`${server.url}/no-range/blob.bin`).stream(10, 20);
  await assert.rejects(ignored.readInto(Buffer.alloc(10), 0, 10), /answered 200 OK, not 206 Partial Content/);
});

test('a file that shrinks after its size was taken is an error naming where it ended, for read and stream alike', async () => {
  const path = join(dir, 'shrinking.bin');
  await writeFile(path, bytes.subarray(0, 1000));
  const source = openByteSource(path);
  assert.equal(await source.size(), 1000);
  await writeFile(path, bytes.subarray(0, 600));
  await assert.rejects(
    source.read(100, 900),
    /shrinking\.bin ended at byte 600 while reading bytes 100-900 \(the file shrank/,
  );
  await assert.rejects(streamed(source, 500, 1000, 64), /ended at byte 600 while reading bytes 500-1000/);
});
