/**
 * A named block of numbers as it is stored in a model file: a typed array and a shape.
 */

/** Element types a tensor can hold. */
export type DType = 'f64' | 'f32' | 'i32' | 'u8';

/** A typed array of any {@link DType}. */
export type TensorData = Float64Array | Float32Array | Int32Array | Uint8Array;

/** A dense array with a shape (row-major); `data.length` is the product of `shape`. */
export interface Tensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: TensorData;
}

/** A float64 tensor over `data`. */
export function f64Tensor(data: Float64Array, shape: readonly number[] = [data.length]): Tensor {
  return { dtype: 'f64', shape, data };
}
