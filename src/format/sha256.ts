/** SHA-256 as the model files, checkpoints and signed cluster tasks write it: lowercase hex. */
import { createHash } from 'node:crypto';

/** Hex SHA-256 of the concatenation of `pieces`. */
export function sha256Hex(...pieces: readonly Uint8Array[]): string {
  const hash = createHash('sha256');
  for (const piece of pieces) hash.update(piece);
  return hash.digest('hex');
}
