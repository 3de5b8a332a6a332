/**
 * A cluster worker's kernel arguments, by key, and the memory the driver's values arrive in.
 *
 * A key names one step's arguments, which never change, so the tasks of one pass that land on a
 * worker share one read of them. A pass's arguments are often megabytes (a model's parameters),
 * and arriving in fresh memory on every pass cost a worker a page fault per 4 KiB as they filled
 * it, and garbage for the collector once dropped: 2,000 faults per pass of a 1,000,000-float
 * allreduce. So the memory of arguments that no task uses any more, and that left the cache, is
 * kept, and the next value of the same size arrives in it.
 *
 * Tasks hold what they use ({@link ArgsCache.acquire} until `release`): arguments that leave the
 * cache while a task still runs on them are given back only when the last such task ends.
 */
import type { KernelArgs } from '../kernel-registry.ts';
import { sharedBytes } from '../local/protocol.ts';
import { ViewPool } from './float64-pool.ts';

/** Arguments, decoded from the bytes they arrived in. */
export interface LoadedArgs {
  readonly args: KernelArgs;
  /** The memory the arguments view; given back for reuse once nothing uses them. */
  readonly bytes: Buffer;
}

/** Arguments a task holds until it calls `release`. */
export interface HeldArgs {
  readonly args: KernelArgs;
  release(): void;
}

interface Entry {
  readonly loaded: Promise<LoadedArgs>;
  /** Tasks holding the arguments now. */
  users: number;
}

/** A worker's kernel arguments by key, the last `limit` kept, and their memory reused. */
export class ArgsCache {
  /** The arguments cached, oldest first. */
  private readonly entries = new Map<string, Entry>();
  /**
   * Arguments that left the cache while tasks still held them (or were still loading). Asked for
   * again, they come back into the cache: a key is never loaded twice at once, so two entries
   * never share one memory.
   */
  private readonly retired = new Map<string, Entry>();
  /** Free memory by size in bytes: shared, at most `limit` buffers of a size. */
  private readonly free: ViewPool<Buffer>;

  /** @param limit - arguments kept (a pass's, and a few before it for requeued tasks) */
  constructor(private readonly limit = 4) {
    this.free = new ViewPool<Buffer>(sharedBytes, true, limit);
  }

  /**
   * Memory for a value of `bytes` bytes from the driver: shared (kernel threads read it in place),
   * starting at offset 0 (float64 views need no copy), reused from arguments no longer used when
   * there are some of that size. The caller owns it.
   */
  allocate(bytes: number): Buffer {
    return this.free.take(bytes);
  }

  /**
   * Takes back memory from {@link allocate} that its caller is done with and holds no view of (a
   * raw partition once decoded), for a later value of its size to arrive in.
   */
  recycle(bytes: Buffer): void {
    this.free.give(bytes);
  }

  /**
   * The arguments under `key`, loaded by `load` if they are not cached (tasks asking at once share
   * one load). The caller must call `release` once it no longer reads them, even if it failed.
   */
  async acquire(key: string, load: () => Promise<LoadedArgs>): Promise<HeldArgs> {
    let entry = this.entries.get(key) ?? this.retired.get(key);
    if (entry === undefined) entry = { loaded: load(), users: 0 };
    this.retired.delete(key);
    if (!this.entries.has(key)) {
      this.entries.set(key, entry);
      if (this.entries.size > this.limit) this.delete(this.entries.keys().next().value as string);
    }
    const held = entry;
    held.users++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      held.users--;
      this.retireIfUnused(key, held);
    };
    try {
      return { args: (await held.loaded).args, release };
    } catch (err) {
      // A failed load is not cached: the next task loads again.
      if (this.entries.get(key) === held) this.entries.delete(key);
      release();
      throw err;
    }
  }

  /** The keys cached. */
  keys(): IterableIterator<string> {
    return this.entries.keys();
  }

  /** Drops `key` from the cache; its memory is reused once no task holds it. */
  delete(key: string): boolean {
    const entry = this.entries.get(key);
    if (entry === undefined) return false;
    this.entries.delete(key);
    this.retired.set(key, entry);
    this.retireIfUnused(key, entry);
    return true;
  }

  /** Gives the memory of a retired entry back once no task holds it and its load is over. */
  private retireIfUnused(key: string, entry: Entry): void {
    if (entry.users > 0 || this.retired.get(key) !== entry) return;
    entry.loaded.then(
      ({ bytes }) => {
        // Still retired and unused once loaded: not asked for again meanwhile.
        if (entry.users > 0 || this.retired.get(key) !== entry) return;
        this.retired.delete(key);
        this.free.give(bytes);
      },
      () => {
        if (this.retired.get(key) === entry) this.retired.delete(key);
      },
    );
  }
}
