/**
 * Model files on disk. Writes are atomic (a crash leaves the old file or the new one, never half of
 * one); reads check sizes against the limits before allocating, and `readModelHeader` reads only
 * the prefix and the header, so inspecting a multi-gigabyte model costs a few kilobytes of I/O.
 * The byte format itself lives in format/tensor-container.ts.
 */
import { type FileHandle, open } from 'node:fs/promises';
import { DistmlError } from '../errors.ts';
import { writeFileAtomic } from '../format/atomic-write.ts';
import {
  checkFileSize,
  decodeModelFile,
  decodeModelHeader,
  decodeModelPrefix,
  type EncodeOptions,
  encodeModelFile,
  MODEL_PREFIX_BYTES,
  type ModelFileContents,
  type ModelFileHeader,
  type ModelFileLimits,
} from '../format/tensor-container.ts';

/** Largest single read; Node refuses reads over 2 GiB. */
const READ_CHUNK = 1 << 30;

/**
 * Encodes `contents` and writes them to `path` atomically.
 * @param options - see {@link EncodeOptions}; `fileName` defaults to `path`
 * @throws ModelFileError when the contents cannot be encoded (nothing is written)
 * @throws DistmlError (FILE_IO) when the write fails; the file at `path`, if any, is unchanged
 */
export async function writeModelFile(
  path: string,
  contents: ModelFileContents,
  options: EncodeOptions = {},
): Promise<void> {
  await writeFileAtomic(path, encodeModelFile(contents, { fileName: path, ...options }));
}

/**
 * Reads, verifies and decodes a model file. The file's size is checked against `maxFileBytes`
 * before its bytes are read.
 * @throws ModelFileError whose `fault` names the problem
 * @throws DistmlError (FILE_IO) when the file cannot be read
 */
export async function readModelFile(path: string, limits: ModelFileLimits = {}): Promise<ModelFileContents> {
  const bytes = await withFile(path, async (handle) => {
    const { size } = await handle.stat();
    checkFileSize(size, path, limits);
    const buffer = new Uint8Array(size);
    // A file that shrank while being read is decoded as it was read, and so refused as truncated.
    return buffer.subarray(0, await readFully(handle, buffer, 0));
  });
  return decodeModelFile(bytes, path, limits);
}

/**
 * Reads and checks only the prefix and the JSON header: tensor places are checked against the
 * file's size, checksums are not. `maxFileBytes` does not apply, since the tensors are not read.
 * @throws ModelFileError whose `fault` names the problem
 * @throws DistmlError (FILE_IO) when the file cannot be read
 */
export async function readModelHeader(path: string, limits: ModelFileLimits = {}): Promise<ModelFileHeader> {
  return withFile(path, async (handle) => {
    const { size } = await handle.stat();
    const prefix = new Uint8Array(MODEL_PREFIX_BYTES);
    const got = await readFully(handle, prefix, 0);
    const headerLength = decodeModelPrefix(prefix.subarray(0, got), path, size, limits);
    const header = new Uint8Array(headerLength);
    const read = await readFully(handle, header, MODEL_PREFIX_BYTES);
    return decodeModelHeader(header.subarray(0, read), path, size - MODEL_PREFIX_BYTES - headerLength);
  });
}

/** Opens `path` for reading, runs `body`, closes it; I/O errors become FILE_IO errors naming the path. */
async function withFile<T>(path: string, body: (handle: FileHandle) => Promise<T>): Promise<T> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'r');
    return await body(handle);
  } catch (err) {
    if (err instanceof DistmlError) throw err;
    throw new DistmlError('FILE_IO', `cannot read model file ${path}: ${(err as Error).message}`, undefined, {
      cause: err,
    });
  } finally {
    await handle?.close();
  }
}

/** Fills `buffer` from `position` on, stopping early only at the end of the file; returns the bytes read. */
async function readFully(handle: FileHandle, buffer: Uint8Array, position: number): Promise<number> {
  let filled = 0;
  while (filled < buffer.byteLength) {
    const length = Math.min(READ_CHUNK, buffer.byteLength - filled);
    const { bytesRead } = await handle.read(buffer, filled, length, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled;
}
