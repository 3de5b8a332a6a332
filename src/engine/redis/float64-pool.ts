/**
 * Typed-array views of a few sizes kept for reuse, by their length: {@link Float64Pool}'s float64
 * arrays, the byte buffers a cluster worker's values arrive in (args-cache.ts), or the arrays its
 * partitions are built in (partition-memory.ts). Only views that
 * own their whole buffer, in shared memory or not as the pool says, are kept.
 */
export class ViewPool<T extends Float64Array | Buffer> {
  private readonly free = new Map<number, T[]>();

  /**
   * @param make - a new view of a length
   * @param shared - whether the views live in shared memory; others given back are not kept
   * @param keep - views kept per length (and lengths kept); more given back are left to the
   *   garbage collector
   * @param zeroed - whether views given back are zeroed, so that taken ones are all zeros
   */
  constructor(
    private readonly make: (length: number) => T,
    private readonly shared: boolean,
    private readonly keep = 4,
    private readonly zeroed = false,
  ) {}

  /** A view of `length`, reused when one was given back: zeros, or undefined contents. */
  take(length: number): T {
    return this.free.get(length)?.pop() ?? this.make(length);
  }

  /** Bytes of the views kept. */
  get bytes(): number {
    let bytes = 0;
    for (const list of this.free.values()) for (const view of list) bytes += view.byteLength;
    return bytes;
  }

  /** Gives `view` back for reuse; the caller must hold no reference to it (nor to a view of it). */
  give(view: T): void {
    const whole = view.byteOffset === 0 && view.byteLength === view.buffer.byteLength;
    if (!whole || view.buffer instanceof SharedArrayBuffer !== this.shared) return;
    let list = this.free.get(view.length);
    if (list === undefined) {
      // Only a few sizes at a time: a new size displaces the oldest.
      if (this.free.size >= this.keep) this.free.delete(this.free.keys().next().value as number);
      list = [];
      this.free.set(view.length, list);
    }
    if (list.length >= this.keep || list.includes(view)) return;
    if (this.zeroed) view.fill(0);
    list.push(view);
  }
}

/**
 * Float64 arrays of a few sizes kept for reuse. A fresh array of megabytes costs more than the
 * bytes written into it: its pages are mapped on first touch, and on this machine filling a fresh
 * 8 MB buffer took 10 ms against 1.7 ms for one used before (median of 15, under load). A pass of
 * the cluster engine receives or writes a result of the same size on every pass, so the driver's
 * result buffers and a worker's output buffers come from a pool.
 *
 * Only arrays that own their whole buffer are kept. A taken array holds whatever was written in it
 * last (callers overwrite every element before reading any: a result is used only once its every
 * byte arrived), unless the pool zeroes what is given back: then every taken array is all zeros,
 * and the zeroing happens when the caller is done with an array rather than when it next needs one
 * (a worker zeroes an output after sending it, not in its next task's way).
 */
export class Float64Pool extends ViewPool<Float64Array> {
  /**
   * @param shared - whether the arrays live in shared memory (read by kernel threads in place)
   * @param keep - arrays kept per length; more given back are left to the garbage collector
   * @param zeroed - whether arrays given back are zeroed, so that taken ones are all zeros
   */
  constructor(shared: boolean, keep = 4, zeroed = false) {
    super(
      (length) => new Float64Array(shared ? new SharedArrayBuffer(length * 8) : new ArrayBuffer(length * 8)),
      shared,
      keep,
      zeroed,
    );
  }
}
