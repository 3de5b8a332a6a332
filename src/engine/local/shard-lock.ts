/**
 * A mutex in one `Int32Array` cell of shared memory, for threads that share a SharedArrayBuffer.
 *
 * It is Drepper's three-state futex mutex ("Futexes Are Tricky", mutex 3): 0 free, 1 held, 2 held
 * and someone may be asleep on it. Taking a free lock is one compareExchange and releasing an
 * uncontended one is one sub, so `Atomics.notify` (a syscall's worth of work) is only paid when a
 * thread really sleeps. Every sleep has a deadline: a thread that died holding a lock must turn
 * into an error in its peers, never into a hang.
 */

const FREE = 0;
const HELD = 1;
const CONTENDED = 2;

// Critical sections here are copies of a few thousand floats: a short spin usually sees the lock
// freed without paying for a sleep and a wake-up.
const SPINS = 64;

/**
 * Takes the lock in `cells[index]`, sleeping with `Atomics.wait` while another thread holds it.
 *
 * @param timeoutMs - how long to wait in all before giving up
 * @returns true once the lock is held; false when `timeoutMs` passed first (the lock is not held)
 */
export function lockCell(cells: Int32Array, index: number, timeoutMs: number): boolean {
  let c = Atomics.compareExchange(cells, index, FREE, HELD);
  if (c === FREE) return true;
  for (let k = 0; k < SPINS; k++) {
    if (Atomics.load(cells, index) === FREE) {
      c = Atomics.compareExchange(cells, index, FREE, HELD);
      if (c === FREE) return true;
    }
  }
  const deadline = performance.now() + timeoutMs;
  // From here on the cell says CONTENDED, so the holder knows to notify when it lets go. A lock
  // taken this way stays marked CONTENDED, which costs at most one needless notify.
  c = Atomics.exchange(cells, index, CONTENDED);
  while (c !== FREE) {
    const remaining = deadline - performance.now();
    if (remaining <= 0) return false;
    Atomics.wait(cells, index, CONTENDED, remaining);
    c = Atomics.exchange(cells, index, CONTENDED);
  }
  return true;
}

/** Releases a lock taken with {@link lockCell}, waking one sleeper if there may be one. */
export function unlockCell(cells: Int32Array, index: number): void {
  if (Atomics.sub(cells, index, 1) !== HELD) {
    Atomics.store(cells, index, FREE);
    Atomics.notify(cells, index, 1);
  }
}
