import assert from 'node:assert/strict';
import { createConnection, createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { FrameReader, type Header } from './channel-frames.ts';
import { FrameWriter } from './frame-writer.ts';

/** A connected pair of loopback sockets. */
async function socketPair(): Promise<{ a: Socket; b: Socket; close: () => void }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const a = createConnection(port, '127.0.0.1');
  const b = await accepted;
  return {
    a,
    b,
    close: () => {
      a.destroy();
      b.destroy();
      server.close();
    },
  };
}

test('staged payloads arrive whole, and frames given meanwhile keep their order', async () => {
  const { a, b, close } = await socketPair();
  try {
    // 9 MB over a 4 MiB stage, in pieces of odd sizes and offsets; a small frame given while it is
    // being written must arrive after it, then a second staged frame, then another small one.
    const big = new Uint8Array(9_000_001);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 12)) & 255;
    const pieces = [big.subarray(0, 5), big.subarray(5, 4_194_309), big.subarray(4_194_309)];
    const other = big.subarray(1_000_000, 1_000_000 + 4_194_304); // exactly one stage
    const frames: Array<{ header: Header; payload: Uint8Array | undefined }> = [];
    const done = new Promise<void>((resolve) => {
      const reader = new FrameReader(
        (h) => Number(h.bytes ?? 0),
        (h) => (h.bytes === undefined ? undefined : new Uint8Array(Number(h.bytes))),
        (header, payload) => {
          frames.push({ header, payload });
          if (frames.length === 4) resolve();
        },
        (why) => assert.fail(why),
      );
      reader.attach(b);
    });
    const out = new FrameWriter(a);
    out.write({ n: 1, bytes: big.length }, pieces, true);
    out.write({ n: 2 });
    out.write({ n: 3, bytes: other.length }, [other], true);
    out.write({ n: 4, bytes: 3 }, [new Uint8Array([1, 2, 3])]);
    await done;
    assert.deepEqual(
      frames.map((f) => f.header.n),
      [1, 2, 3, 4],
    );
    assert.ok(Buffer.from(frames[0]!.payload!).equals(big));
    assert.equal(frames[1]!.payload, undefined);
    assert.ok(Buffer.from(frames[2]!.payload!).equals(other));
    assert.deepEqual([...frames[3]!.payload!], [1, 2, 3]);
  } finally {
    close();
  }
});

test('a connection closed in the middle of a staged payload ends the writer quietly, and later frames are dropped', async () => {
  const { a, b, close } = await socketPair();
  try {
    a.on('error', () => {}); // the driver's sockets ignore errors the same way
    const out = new FrameWriter(a);
    let received = 0;
    const firstBytes = new Promise<void>((resolve) =>
      b.on('data', (chunk: Buffer) => {
        received += chunk.length;
        resolve();
      }),
    );
    const big = new Uint8Array(64 * 1024 * 1024);
    out.write({ bytes: big.length }, [big], true);
    out.write({ after: true });
    await firstBytes;
    b.destroy();
    // The writer stops at the next stage it fills (the socket is destroyed), and its queue drains.
    const drained = new Promise<void>((resolve) => a.once('close', () => resolve()));
    await drained;
    out.write({ later: true });
    out.write({ later: true }, [new Uint8Array(10)], true);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(received < big.length, `the reader got ${received} bytes before it closed`);
  } finally {
    close();
  }
});
