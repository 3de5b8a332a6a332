/**
 * Writes that never leave a half-written file behind: data goes to a temporary file in the same
 * directory, is flushed to disk, then renamed over the target (rename is atomic on POSIX), and the
 * directory is flushed so the rename itself survives a crash.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DistmlError } from '../errors.ts';

/** A temporary path beside `target`, unique to this write. */
export function temporaryPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/**
 * Writes `chunks` to `target` atomically.
 * @throws DistmlError (FILE_IO) naming the target when the write fails; the temporary file is removed
 */
export async function writeFileAtomic(
  target: string,
  chunks: Uint8Array | string | readonly (Uint8Array | string)[],
) {
  const parts = Array.isArray(chunks) ? chunks : [chunks as Uint8Array | string];
  const tmp = temporaryPathFor(target);
  try {
    const handle = await open(tmp, 'wx', 0o644);
    try {
      for (const part of parts) await handle.write(part);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, target);
    await syncDirectory(dirname(target));
  } catch (err) {
    await rm(tmp, { force: true });
    throw new DistmlError('FILE_IO', `cannot write ${target}: ${(err as Error).message}`, undefined, {
      cause: err,
    });
  }
}

/** Flushes a directory entry to disk; some file systems refuse, which is harmless here. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Directories cannot be fsync'ed on every platform; the rename has still happened.
  } finally {
    await handle?.close();
  }
}
