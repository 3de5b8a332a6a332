/**
 * A bound on how long the cluster waits for Redis or a peer: ioredis and BullMQ queue commands
 * while a connection is down, so a call can otherwise wait forever.
 */

/** `p`, or a rejection with `error()` after `ms`; the timer is cleared either way. */
export async function withTimeout<T>(p: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(error()), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
