import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeArgs, encodeArgs } from './tensor-codec.ts';

/** The pieces as one buffer in shared memory of its own, as a worker receives them. */
function joined(pieces: Uint8Array[]): Buffer {
  const total = pieces.reduce((n, p) => n + p.byteLength, 0);
  const out = Buffer.from(new SharedArrayBuffer(total));
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

test('arguments round-trip: scalars, strings, broadcasts and tensors, each tensor viewed in place', () => {
  const w = Float64Array.from({ length: 1001 }, (_, i) => i / 3 - 7);
  const args = {
    C: 0.5,
    fitIntercept: true,
    loss: 'hinge',
    w,
    empty: new Float64Array(0),
    b: { broadcast: 'b1', length: 3 },
  };
  const pieces = encodeArgs(args);
  // The tensor is served as it is: the piece is a view of the caller's memory.
  assert.ok(pieces.some((p) => p.buffer === w.buffer));
  const buf = joined(pieces);
  const back = decodeArgs(buf, 'args');
  assert.deepEqual(back, args);
  assert.equal((back.w as Float64Array).buffer, buf.buffer, 'viewed, not copied');
  // With copy, the pieces hold their own bytes: a later change of the caller's tensor is not seen.
  const copied = encodeArgs({ w }, true);
  w[0] = 99;
  assert.equal((decodeArgs(joined(copied), 'args').w as Float64Array)[0], -7);
});

test('arguments with many and long strings decode from shared memory (msgpackr native strings crashed there)', () => {
  const args: Record<string, string> = { long: 'x'.repeat(1000) };
  for (let i = 0; i < 20; i++) args[`k${i}`] = `value-${i}-abc`;
  assert.deepEqual(decodeArgs(joined(encodeArgs(args)), 'args'), args);
});

test('malformed arguments are refused with what is wrong, before any tensor is read', () => {
  const good = joined(encodeArgs({ w: new Float64Array([1, 2, 3]) }));
  assert.throws(
    () => decodeArgs(good.subarray(0, good.byteLength - 8), 'the arguments'),
    /tensor 'w' runs past the end/,
  );
  assert.throws(
    () => decodeArgs(Buffer.concat([good, Buffer.alloc(8)]), 'the arguments'),
    /8 bytes follow the last tensor/,
  );
  const header = Buffer.alloc(8);
  header.writeUInt32LE(1 << 20, 0);
  assert.throws(() => decodeArgs(header, 'the arguments'), /the header runs past the end/);
  assert.throws(() => decodeArgs(good, 'the arguments', 16), /over the limit of 16/);
});
