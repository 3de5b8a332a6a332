/**
 * Partitions the driver sends raw, for its workers to turn into the matrix kernels run on. Training
 * from a frame sends each partition's feature columns as they were read, and every worker encodes
 * its own with the preprocessing plan: otherwise the driver encodes every row itself before any
 * worker starts, serial work that bounds what more workers can gain.
 *
 * Like kernels, the code that decodes is named, never shipped: a module above the engine registers
 * a {@link PartitionDecoder} under a name, every worker imports it, and tasks carry the name and
 * the key of a spec (plain data saying what to do with the bytes, the same for every partition).
 */
import type { DesignMatrix } from '../data/design-matrix.ts';
import type { DistributedMatrix, Engine } from './engine.ts';
import { namedRegistry } from './named-registry.ts';
import type { Plain } from './source-tasks.ts';

/** One partition as the driver sends it: the concatenation of `pieces`, for `rows` rows. */
export interface RawPartition {
  readonly rows: number;
  /** Sent as they are, without a copy: the caller keeps them unchanged while they are placed. */
  readonly pieces: readonly ArrayBufferView[];
}

/**
 * Turns one raw partition's bytes into its matrix.
 * @param bytes - the concatenated pieces, starting at a multiple of 8; gone once this returns
 * @param what - names the partition in errors
 * @param allocate - where the matrix and targets go (memory the worker's kernel threads read)
 * @throws DistmlError (a data error is final: decoding the same bytes again fails the same way)
 */
export type PartitionDecoder = (
  bytes: Uint8Array,
  spec: Plain,
  what: string,
  allocate: (length: number) => Float64Array,
) => DesignMatrix;

/** How the workers decode the partitions of one placement. */
export interface RawEncoding {
  /** Registry name of the {@link PartitionDecoder}. */
  readonly decoder: string;
  readonly spec: Plain;
}

/** An engine whose workers can decode raw partitions. */
export interface RawPartitionEngine extends Engine {
  /**
   * Places `parts` (partition p is `parts[p]`), which the workers decode as `encoding` says into
   * matrices of `cols` columns.
   */
  distributeRaw(
    parts: readonly RawPartition[],
    encoding: RawEncoding,
    cols: number,
  ): Promise<DistributedMatrix>;
}

/** Whether `engine` can place raw partitions. */
export function isRawPartitionEngine(engine: Engine): engine is RawPartitionEngine {
  return typeof (engine as Partial<RawPartitionEngine>).distributeRaw === 'function';
}

const registry = namedRegistry<PartitionDecoder>('partition decoder', 'src/pipeline/frame-partitions.ts');

/** Registers `decoder` under `name`. @throws Error for a name registered twice */
export function registerPartitionDecoder(name: string, decoder: PartitionDecoder): void {
  registry.register(name, decoder);
}

/** The decoder registered under `name`. @throws DistmlError naming the module to import */
export function getPartitionDecoder(name: string): PartitionDecoder {
  return registry.get(name);
}
