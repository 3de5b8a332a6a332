/**
 * Tensors and kernel arguments as binary values (in Redis, or over the task channel): float64
 * vectors as raw little-endian bytes (never JSON), arguments as a msgpack header followed by the
 * raw bytes of their tensors. Sizes are checked before a value is decoded, so a corrupt or
 * hostile value cannot make a worker allocate without bound.
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
 * A Float64Array copied out of `buf` (Redis replies share pooled, unaligned memory).
 * @throws DistmlError when the value is not a whole number of float64s or is too large
 */
export function decodeFloat64(buf: Buffer, what: string, maxBytes = MAX_VALUE_BYTES): Float64Array {
  if (buf.byteLength > maxBytes) {
    throw new DistmlError('KERNEL', `${what} is ${buf.byteLength} bytes, over the limit of ${maxBytes}`);
  }
  if (buf.byteLength % 8 !== 0) {
    throw new DistmlError(
      'KERNEL',
      `${what} is ${buf.byteLength} bytes, not a whole number of float64 values`,
    );
  }
  const out = new Float64Array(buf.byteLength / 8);
  new Uint8Array(out.buffer).set(buf);
  return out;
}

/**
 * A Float64Array over the memory of `buf` itself, without a copy: for buffers that own an aligned
 * memory of their own (the task channel's values, see driver-values.ts), which nothing else reuses.
 * @throws DistmlError as {@link decodeFloat64}
 */
export function viewFloat64(buf: Buffer, what: string, maxBytes = MAX_VALUE_BYTES): Float64Array {
  // Misaligned, too large or ragged: the copying decoder says what is wrong, or copies.
  if (buf.byteOffset % 8 !== 0 || buf.byteLength > maxBytes || buf.byteLength % 8 !== 0)
    return decodeFloat64(buf, what, maxBytes);
  return new Float64Array(buf.buffer, buf.byteOffset, buf.byteLength / 8);
}

/**
 * Kernel arguments as pieces of one value: `u32 header length | msgpack header | padding to 8 |
 * the raw bytes of each Float64Array argument`. The header holds the other arguments and the
 * names and lengths of the tensors. Tensors are not copied into the pieces (with `copy`, they
 * are, for arguments their caller may change before the workers have read them), and a worker
 * views them in the received bytes without a copy, since each starts at a multiple of 8.
 */
export function encodeArgs(args: KernelArgs, copy = false): Uint8Array[] {
  const plain: Record<string, unknown> = {};
  const names: string[] = [];
  const tensors: Uint8Array[] = [];
  for (const [name, value] of Object.entries(args)) {
    if (value instanceof Float64Array) {
      names.push(name);
      const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
      tensors.push(copy ? bytes.slice() : bytes);
    } else plain[name] = value;
  }
  const header = packr.pack({ plain, tensors: names, lengths: tensors.map((t) => t.byteLength / 8) });
  const prefix = new Uint8Array(Math.ceil((4 + header.byteLength) / 8) * 8);
  new DataView(prefix.buffer).setUint32(0, header.byteLength, true);
  prefix.set(header, 4);
  return [prefix, ...tensors];
}

/**
 * Kernel arguments from the bytes of {@link encodeArgs}; tensors are views of `buf` when it is
 * aligned, copies otherwise.
 * @throws DistmlError when they are not an argument record, or their sizes do not add up
 */
export function decodeArgs(buf: Buffer, what: string, maxBytes = MAX_VALUE_BYTES): KernelArgs {
  if (buf.byteLength > maxBytes) {
    throw new DistmlError('KERNEL', `${what} is ${buf.byteLength} bytes, over the limit of ${maxBytes}`);
  }
  const malformed = (why: string) => new DistmlError('KERNEL', `${what} are malformed: ${why}`);
  if (buf.byteLength < 4) throw malformed('shorter than their header');
  const headerBytes = buf.readUInt32LE(0);
  if (4 + headerBytes > buf.byteLength) throw malformed('the header runs past the end');
  // The small header is copied out first: `buf` may live in shared memory, where msgpackr's native
  // string extraction crashes the process (a segmentation fault; tensor-codec.test.ts).
  const header: unknown = packr.unpack(Buffer.from(buf.subarray(4, 4 + headerBytes)));
  const h = header as { plain?: unknown; tensors?: unknown; lengths?: unknown } | null;
  if (
    typeof h !== 'object' ||
    h === null ||
    typeof h.plain !== 'object' ||
    h.plain === null ||
    Array.isArray(h.plain) ||
    !Array.isArray(h.tensors) ||
    !Array.isArray(h.lengths) ||
    h.tensors.length !== h.lengths.length
  ) {
    throw new DistmlError('KERNEL', `${what} does not hold kernel arguments`);
  }
  const value: Record<string, unknown> = { ...(h.plain as Record<string, unknown>) };
  let at = Math.ceil((4 + headerBytes) / 8) * 8;
  const lengths = h.lengths as unknown[];
  h.tensors.forEach((name, i) => {
    const length = lengths[i];
    if (
      typeof name !== 'string' ||
      name === '__proto__' ||
      !Number.isSafeInteger(length) ||
      (length as number) < 0
    )
      throw malformed(`tensor ${i} has no valid name or length`);
    const end = at + (length as number) * 8;
    if (end > buf.byteLength) throw malformed(`tensor '${name}' runs past the end`);
    value[name] = viewFloat64(buf.subarray(at, end), `${what}: tensor '${name}'`);
    at = end;
  });
  if (at !== buf.byteLength) throw malformed(`${buf.byteLength - at} bytes follow the last tensor`);
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
