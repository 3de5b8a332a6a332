/**
 * The driver's record of the matrices a cluster engine placed, and what their tasks must carry for
 * a worker to get a partition: nothing more when the driver placed it as a matrix, its lineage
 * when the workers read it from a source (source-partitions.ts), its decoder when the driver sent
 * raw rows (../raw-partitions.ts).
 */

import { DistmlError } from '../../errors.ts';
import type { DistributedMatrix } from '../engine.ts';
import { messageLineage, type PlacedLineage, slotLineages } from './source-partitions.ts';
import type { MessageDecoder, MessageLineage } from './task-message.ts';

/** What a pass's or DAG task on a placement carries besides its kernel and arguments. */
export interface PartitionFields {
  readonly lineage?: MessageLineage;
  readonly decoder?: MessageDecoder;
}

/** What a parameter-server loop slot's task carries: the lineages of every partition it owns. */
export interface SlotFields {
  readonly lineages?: readonly MessageLineage[];
  readonly decoder?: MessageDecoder;
}

/** The placements of one engine, by id. */
export class PlacedMatrices {
  private readonly placements = new Map<string, DistributedMatrix>();
  private readonly lineages = new Map<string, PlacedLineage>();
  private readonly decoders = new Map<string, MessageDecoder>();

  /** Records a placement, read from a source by `lineage`, or sent raw for `decoder`, if given. */
  add(placement: DistributedMatrix, how: { lineage?: PlacedLineage; decoder?: MessageDecoder } = {}): void {
    this.placements.set(placement.id, placement);
    if (how.lineage !== undefined) this.lineages.set(placement.id, how.lineage);
    if (how.decoder !== undefined) this.decoders.set(placement.id, how.decoder);
  }

  /** The placement `on` names. @throws DistmlError when it is unknown or released */
  get(on: DistributedMatrix): DistributedMatrix {
    const placement = this.placements.get(on.id);
    if (placement === undefined) throw new DistmlError('KERNEL', `unknown or released placement '${on.id}'`);
    return placement;
  }

  /** Every placement not released. */
  all(): DistributedMatrix[] {
    return [...this.placements.values()];
  }

  /** The fields of a task on partition `partition` of `on`. */
  taskFields(on: DistributedMatrix, partition: number): PartitionFields {
    const placed = this.lineages.get(on.id);
    if (placed !== undefined) return { lineage: messageLineage(placed, partition) };
    const decoder = this.decoders.get(on.id);
    return decoder === undefined ? {} : { decoder };
  }

  /** The fields of loop slot `slot` of `slots` on `on` (it owns partitions slot, slot + slots, …). */
  slotFields(on: DistributedMatrix, slot: number, slots: number): SlotFields {
    const placed = this.lineages.get(on.id);
    if (placed !== undefined) return { lineages: slotLineages(placed, slot, slots) };
    const decoder = this.decoders.get(on.id);
    return decoder === undefined ? {} : { decoder };
  }

  /**
   * Forgets `on`. Returns whether it was placed, and the Redis key of its spec (to delete), if it
   * has one.
   */
  release(on: DistributedMatrix): { placed: boolean; specKey?: string } {
    if (!this.placements.delete(on.id)) return { placed: false };
    const specKey = this.lineages.get(on.id)?.specKey ?? this.decoders.get(on.id)?.specKey;
    this.lineages.delete(on.id);
    this.decoders.delete(on.id);
    return specKey === undefined ? { placed: true } : { placed: true, specKey };
  }
}
