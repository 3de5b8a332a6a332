/**
 * Digests of the values a signed task reads from Redis. Redis values are not signed themselves: a
 * signed task message carries the SHA-256 of each value it names (a source partition's spec, and
 * without the task channel the driver's arguments, partitions and broadcasts), and a worker
 * refuses bytes with another digest, so that whoever can write to Redis without the cluster
 * secret cannot change what a task computes.
 */
import { UnrecoverableError } from 'bullmq';
import { sha256Hex } from '../../format/sha256.ts';

/**
 * Checks that `bytes`, read from Redis, are those of `digest`, the one the signed task names.
 * `what` names the value ("the spec KEY").
 * @throws UnrecoverableError (a retry would read the same bytes) when the task names no digest, or
 *   another one
 */
export function checkDigest(what: string, bytes: Uint8Array, digest: string | undefined): void {
  if (digest === undefined) {
    throw new UnrecoverableError(
      `${what} in Redis has no digest in the signed task, so it cannot be checked; refused (the driver and the workers must run the same version of distml)`,
    );
  }
  if (sha256Hex(bytes) !== digest) {
    throw new UnrecoverableError(
      `${what} in Redis is not the one the signed task names (its SHA-256 differs): it was changed or replaced in Redis; refused`,
    );
  }
}
