/**
 * A model file's contents that exercise every dtype and awkward bit pattern, and ways to take its
 * bytes apart and put them back together: shared by the tests of the byte format
 * (src/format/tensor-container.test.ts) and of model files on disk (src/io/model-file.test.ts).
 */
import {
  encodeModelFile,
  type ModelFileContents,
  type ModelFileHeader,
  type Tensor,
} from '../../src/format/tensor-container.ts';

export const CREATED_AT = '2024-05-01T12:00:00.000Z';

/** A Float64Array holding exactly these bit patterns (built without passing through a JS number). */
function f64Bits(bits: readonly bigint[]): Float64Array {
  return new Float64Array(BigUint64Array.from(bits).buffer);
}

export function bytesOf(t: Tensor['data']): Uint8Array {
  return new Uint8Array(t.buffer, t.byteOffset, t.byteLength);
}

export function sample(): ModelFileContents {
  return {
    kind: 'logistic-regression',
    params: { alpha: 0.5, fitIntercept: true, solver: 'lbfgs', classes: ['no', 'yes'] },
    meta: {
      schema: [
        { name: 'age', kind: 'number' },
        { name: 'city', kind: 'category', levels: ['Oslo', 'Lima'] },
      ],
      metrics: { accuracy: 0.93, logLoss: 0.21 },
      note: null,
    },
    tensors: {
      weights: {
        dtype: 'f64',
        shape: [2, 3],
        data: f64Bits([
          0x7ff8000000000001n, // quiet NaN with a payload
          0xfff0000000000dadn, // signalling NaN with a payload and the sign bit
          0x8000000000000000n, // -0
          0x0000000000000001n, // smallest denormal
          0x000fffffffffffffn, // largest denormal
          0x3ff8000000000000n, // 1.5
        ]),
      },
      bias: {
        dtype: 'f32',
        shape: [3],
        data: new Float32Array(new Uint32Array([0x7fc00abc, 0x80000000, 1]).buffer),
      },
      codes: { dtype: 'i32', shape: [4], data: Int32Array.from([-2147483648, -1, 0, 2147483647]) },
      bins: { dtype: 'u8', shape: [5], data: Uint8Array.from([0, 1, 127, 128, 255]) },
      scalar: { dtype: 'f64', shape: [], data: Float64Array.from([42]) },
      empty: { dtype: 'f32', shape: [0, 4], data: new Float32Array(0) },
    },
  };
}

export function encodeSample(): Uint8Array {
  return encodeModelFile(sample(), { createdAt: CREATED_AT });
}

/** The parsed header and the data section of encoded bytes. */
export function split(bytes: Uint8Array): { header: ModelFileHeader; data: Uint8Array } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(8, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + n))) as ModelFileHeader;
  return { header, data: bytes.subarray(16 + n) };
}

/** A file from header text and data, the header padded with spaces as the writer does. */
export function assemble(headerText: string, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(headerText);
  const n = Math.ceil((16 + json.length) / 8) * 8 - 16;
  const out = new Uint8Array(16 + n + data.length).fill(0x20, 16, 16 + n);
  out.set(new TextEncoder().encode('DISTMLMF'));
  new DataView(out.buffer).setBigUint64(8, BigInt(n), true);
  out.set(json, 16);
  out.set(data, 16 + n);
  return out;
}
