/**
 * Tensors and kernel arguments as binary Redis values: float64 vectors as raw little-endian bytes
 * (never JSON), arguments as msgpack with typed arrays kept typed. Sizes are checked before a
 * value is decoded, so a corrupt or hostile value cannot make a worker allocate without bound.
 */
import { Packr } from 'msgpackr';
import { DistmlError } from '../../errors.ts';
import type { KernelArgs } from '../kernel-registry.ts';

const packr = new Packr({ moreTypes: true, useRecords: false });

/** Largest binary value the cluster reads (Redis's own limit is 512 MiB). */
export const MAX_VALUE_BYTES = 512 * 2 ** 20;

/** Whether typed arrays are little-endian here, as the wire format is (checked once). */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The bytes of `v`, without a copy. */
export function encodeFloat64(v: Float64Array): Buffer {
  if (!LITTLE_ENDIAN) throw new Error('big-endian hosts are not supported');
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/**
 * A Float64Array copied out of `buf` (Redis replies share pooled, unaligned memory), into a
 * SharedArrayBuffer when `shared` (for values that threads read in place).
 * @throws DistmlError when the value is not a whole number of float64s or is too large
 */
export function decodeFloat64(
  buf: Buffer,
  what: string,
  maxBytes = MAX_VALUE_BYTES,
  shared = false,
): Float64Array {
  if (buf.byteLength > maxBytes) {
    throw new DistmlError('KERNEL', `${what} is ${buf.byteLength} bytes, over the limit of ${maxBytes}`);
  }
  if (buf.byteLength % 8 !== 0) {
    throw new DistmlError(
      'KERNEL',
      `${what} is ${buf.byteLength} bytes, not a whole number of float64 values`,
    );
  }
  const out = new Float64Array(
    shared ? new SharedArrayBuffer(buf.byteLength) : new ArrayBuffer(buf.byteLength),
  );
  new Uint8Array(out.buffer).set(buf);
  return out;
}

/** Kernel arguments as msgpack bytes. */
export function encodeArgs(args: KernelArgs): Buffer {
  return packr.pack(args);
}

/** Kernel arguments from msgpack bytes. @throws DistmlError when they are not an argument record */
export function decodeArgs(buf: Buffer, what: string, maxBytes = MAX_VALUE_BYTES): KernelArgs {
  if (buf.byteLength > maxBytes) {
    throw new DistmlError('KERNEL', `${what} is ${buf.byteLength} bytes, over the limit of ${maxBytes}`);
  }
  const value: unknown = packr.unpack(buf);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DistmlError('KERNEL', `${what} does not hold kernel arguments`);
  }
  for (const [key, v] of Object.entries(value)) {
    const ok =
      typeof v === 'number' ||
      typeof v === 'boolean' ||
      typeof v === 'string' ||
      v instanceof Float64Array ||
      (typeof v === 'object' && v !== null && typeof (v as { broadcast?: unknown }).broadcast === 'string');
    if (!ok || key === '__proto__')
      throw new DistmlError('KERNEL', `${what}: argument '${key}' has an unsupported type`);
  }
  return value as KernelArgs;
}
