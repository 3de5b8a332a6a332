import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { FrameReader, type Header } from './channel-frames.ts';

/** The bytes of frame `header` + `payload`, as writeFrame puts them on the wire. */
function frame(header: Header, payload = new Uint8Array(0)): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(json.byteLength);
  return Buffer.concat([length, json, payload]);
}

test('a reader that gives the socket its memory reads payloads in place, skips dropped ones, and splits frames anywhere', () => {
  const kept = Uint8Array.from({ length: 300_000 }, (_, i) => i % 251);
  const dropped = new Uint8Array(200_000).fill(7);
  const wire = Buffer.concat([
    frame({ n: 1, bytes: kept.byteLength, keep: true }, kept),
    frame({ n: 2, bytes: dropped.byteLength }, dropped),
    frame({ n: 3 }),
  ]);
  const frames: string[] = [];
  let target: Uint8Array | undefined;
  const reader = new FrameReader(
    (h) => (typeof h.bytes === 'number' ? h.bytes : 0),
    (h) => {
      if (h.keep !== true) return 'skip';
      target = new Uint8Array(h.bytes as number);
      return target;
    },
    (h, payload) => frames.push(`${String(h.n)}:${payload === undefined ? '-' : payload.byteLength}`),
    (why) => assert.fail(why),
  );
  const { buffer, callback } = reader.onread();
  const next = buffer as () => Uint8Array;
  // What a socket does: asks for memory, reads at most that much into it (here in uneven amounts,
  // as the kernel has bytes), and reports how many.
  let at = 0;
  let reads = 0;
  let inPlace = 0;
  while (at < wire.byteLength) {
    const into = next();
    const n = Math.min(into.byteLength, wire.byteLength - at, 1 + ((reads * 7919) % 90_000));
    into.set(wire.subarray(at, at + n));
    if (target !== undefined && into.buffer === target.buffer) inPlace += n;
    callback(n, into);
    at += n;
    reads++;
  }
  assert.deepEqual(frames, ['1:300000', '2:-', '3:-']);
  assert.deepEqual(target, kept);
  // Past the reads that also carried its header, the kept payload went straight into its buffer.
  assert.ok(inPlace > kept.byteLength - 100_000, `${inPlace} bytes read in place`);
});

test('a payload reports how much of it is in its buffer as it arrives, in place or in chunks', () => {
  const kept = Uint8Array.from({ length: 100_000 }, (_, i) => i % 241);
  const wire = Buffer.concat([
    frame({ n: 1, bytes: 5000 }, new Uint8Array(5000)),
    frame({ n: 2, bytes: kept.byteLength, keep: true }, kept),
  ]);
  for (const inPlace of [true, false]) {
    const reports: number[] = [];
    let target: Uint8Array | undefined;
    const reader = new FrameReader(
      (h) => h.bytes as number,
      (h) => (h.keep === true ? (target = new Uint8Array(h.bytes as number)) : 'skip'),
      () => {},
      (why) => assert.fail(why),
      (h, filled) => {
        assert.equal(h.n, 2, 'a skipped payload reports nothing');
        // What is reported is there already.
        assert.deepEqual(target!.subarray(0, filled), kept.subarray(0, filled));
        reports.push(filled);
      },
    );
    const sizes = (i: number) => 1 + ((i * 7919) % 30_000);
    if (inPlace) {
      const { buffer, callback } = reader.onread();
      for (let at = 0, i = 0; at < wire.byteLength; i++) {
        const into = (buffer as () => Uint8Array)();
        const n = Math.min(into.byteLength, wire.byteLength - at, sizes(i));
        into.set(wire.subarray(at, at + n));
        callback(n, into);
        at += n;
      }
    } else {
      const socket = new EventEmitter();
      reader.attach(socket as never);
      for (let at = 0, i = 0; at < wire.byteLength; i++) {
        const n = Math.min(wire.byteLength - at, sizes(i));
        socket.emit('data', wire.subarray(at, at + n));
        at += n;
      }
    }
    assert.ok(reports.length > 3, `${reports.length} reports`);
    assert.deepEqual(
      reports,
      [...reports].sort((a, b) => a - b),
      'growing',
    );
    assert.equal(reports.at(-1), kept.byteLength);
  }
});
