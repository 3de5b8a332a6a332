/**
 * Training rows sent to cluster workers as the frame holds them, for each worker to encode its own
 * partition with the preprocessing plan (see engine/raw-partitions.ts): the encoding of every row
 * then runs on the workers side by side instead of on the driver before any of them starts. Each
 * element is encoded by the same `applyPlan` either way, so the matrix, and the model, are the same
 * bit for bit.
 *
 * A partition's value is `f64 rows | f64 y[rows] | f64 weights[rows] (when weighted) | f64 values
 * of each numeric column | i32 codes of each categorical column`: the float64 parts first, so each
 * starts at a multiple of 8 and is viewed in place; the categorical levels travel once, in the spec.
 * The driver's pieces are views of the frame's columns: placing copies nothing.
 */
import { blockRanges, type DesignMatrix } from '../data/design-matrix.ts';
import { type Column, categoricalColumn, type Field, Frame, numericColumn } from '../data/frame.ts';
import { type RawEncoding, type RawPartition, registerPartitionDecoder } from '../engine/raw-partitions.ts';
import type { Plain } from '../engine/source-tasks.ts';
import { DistmlError } from '../errors.ts';
import type { PreprocessPlan } from '../preprocess/preprocessor.ts';
import { trainingMatrix } from './training-matrix.ts';

/** Registry name of the decoder. */
export const FRAME_DECODER = 'frame';

/** What every partition of a placement shares: how to read its bytes and encode its rows. */
interface FrameSpec {
  readonly plan: PreprocessPlan;
  /** The feature columns the plan reads, in the plan's order (categorical ones with their levels). */
  readonly columns: readonly Field[];
  /** Whether each row carries a sample weight, placed as the matrix's last column. */
  readonly weighted: boolean;
}

/** The raw partitions of a training frame, and how workers encode them. */
export interface FramePlacement {
  readonly parts: RawPartition[];
  readonly encoding: RawEncoding;
  /** Columns of the encoded matrix. */
  readonly cols: number;
}

/**
 * Splits the rows of `features` into `partitions` blocks (as `Engine.distribute` splits a matrix)
 * with their encoded targets `y` and optional sample weights.
 */
export function framePartitions(
  features: Frame,
  plan: PreprocessPlan,
  y: Float64Array,
  weights: Float64Array | undefined,
  partitions: number,
): FramePlacement {
  const columns = plan.steps.map((step) => features.column(step.name));
  const spec: FrameSpec = {
    plan,
    columns: columns.map(field),
    weighted: weights !== undefined,
  };
  const parts = blockRanges(features.rows, partitions).map(([start, end]): RawPartition => {
    const pieces: ArrayBufferView[] = [new Float64Array([end - start]), y.subarray(start, end)];
    if (weights !== undefined) pieces.push(weights.subarray(start, end));
    for (const c of columns) if (c.kind === 'number') pieces.push(c.values.subarray(start, end));
    for (const c of columns) if (c.kind === 'category') pieces.push(c.codes.subarray(start, end));
    return { rows: end - start, pieces };
  });
  return {
    parts,
    encoding: { decoder: FRAME_DECODER, spec: spec as unknown as Plain },
    cols: plan.outputNames.length + (weights === undefined ? 0 : 1),
  };
}

function field(c: Column): Field {
  return c.kind === 'number'
    ? { name: c.name, kind: 'number' }
    : { name: c.name, kind: 'category', levels: c.levels };
}

/** Decodes and encodes one partition of {@link framePartitions} on a worker. */
function decodeFrame(
  received: Uint8Array,
  specData: Plain,
  what: string,
  allocate: (length: number) => Float64Array,
): DesignMatrix {
  const spec = specData as unknown as FrameSpec;
  // Float64 views need an offset that is a multiple of 8; driver values arrive so (driver-values.ts).
  const bytes = received.byteOffset % 8 === 0 ? received : new Uint8Array(received);
  const rows = bytes.byteLength >= 8 ? new Float64Array(bytes.buffer, bytes.byteOffset, 1)[0]! : Number.NaN;
  const numeric = spec.columns.filter((c) => c.kind === 'number').length;
  const float64s = 1 + (spec.weighted ? 1 : 0) + numeric;
  const expected = 8 + rows * 8 * float64s + rows * 4 * (spec.columns.length - numeric);
  if (!Number.isSafeInteger(rows) || rows < 0 || bytes.byteLength !== expected) {
    throw new DistmlError(
      'KERNEL',
      `${what} is malformed: ${bytes.byteLength} bytes, expected ${expected} for ${rows} rows`,
    );
  }
  let at = bytes.byteOffset + 8;
  const float64 = () => {
    const view = new Float64Array(bytes.buffer, at, rows);
    at += rows * 8;
    return view;
  };
  // Copied by trainingMatrix, like every view here: the received bytes go once the rows are encoded.
  const y = float64();
  const weights = spec.weighted ? float64() : undefined;
  const values = new Map<string, Float64Array>();
  for (const c of spec.columns) if (c.kind === 'number') values.set(c.name, float64());
  const columns = spec.columns.map((c): Column => {
    if (c.kind === 'number') return numericColumn(c.name, values.get(c.name)!);
    const codes = new Int32Array(bytes.buffer, at, rows);
    at += rows * 4;
    return categoricalColumn(c.name, codes, c.levels ?? []);
  });
  return trainingMatrix(spec.plan, new Frame(columns), y, weights, what, allocate);
}

registerPartitionDecoder(FRAME_DECODER, decodeFrame);
