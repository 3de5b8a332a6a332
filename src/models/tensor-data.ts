import { DistmlError } from '../errors.ts';
import type { Tensor } from '../tensor.ts';

/** The float64 data of a named tensor of a loaded model. @throws DistmlError (MODEL_FILE) when absent */
export function tensorData(tensors: Readonly<Record<string, Tensor>>, name: string): Float64Array {
  const t = Object.hasOwn(tensors, name) ? tensors[name] : undefined;
  if (t === undefined || !(t.data instanceof Float64Array)) {
    throw new DistmlError('MODEL_FILE', `model file has no float64 tensor '${name}'`);
  }
  return t.data;
}
