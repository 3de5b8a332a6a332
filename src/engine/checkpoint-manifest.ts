/**
 * The layout of a checkpoint directory: file names, the manifest that lists the complete
 * checkpoints, and the error that says why a checkpoint or manifest was refused.
 *
 * The manifest is untrusted input like any file: its size is checked before it is read, every field
 * is type-checked, and a file name is accepted only if it is exactly the name its step gives, so a
 * manifest can never point outside its directory.
 */
import { type FileHandle, open } from 'node:fs/promises';
import { basename } from 'node:path';
import { DistmlError } from '../errors.ts';

/** Why a checkpoint or a manifest was refused. */
export type CheckpointFault = 'corrupt' | 'truncated' | 'missing' | 'mismatch' | 'too-large' | 'unreadable';

/** A checkpoint or manifest that cannot be used; `fault` names the problem, `file` the path. */
export class CheckpointError extends DistmlError {
  /**
   * @param file - path of the refused checkpoint or manifest
   * @param fault - what is wrong with it
   * @param detail - the exact evidence, e.g. the two checksums that differ
   */
  constructor(
    readonly file: string,
    readonly fault: CheckpointFault,
    detail: string,
    hint?: string,
  ) {
    const code = fault === 'missing' || fault === 'unreadable' ? 'FILE_IO' : 'MODEL_FILE';
    const what = basename(file) === MANIFEST_NAME ? 'checkpoint manifest' : 'checkpoint';
    super(code, `${what} ${file} is ${FAULT_WORDS[fault]} (${detail})`, hint);
  }
}

const FAULT_WORDS: Readonly<Record<CheckpointFault, string>> = {
  corrupt: 'corrupt',
  truncated: 'truncated',
  missing: 'missing',
  mismatch: 'from another run',
  'too-large': 'too large',
  unreadable: 'unreadable',
};

/** One complete checkpoint as the manifest records it. */
export interface ManifestEntry {
  step: number;
  /** File name inside the checkpoint directory, always {@link checkpointFileName}(step). */
  file: string;
  /** Size of the whole file in bytes. */
  bytes: number;
  /** Lowercase hex SHA-256 of the whole file. */
  sha256: string;
}

/** The parsed `manifest.json`. */
export interface CheckpointManifest {
  /** The run that wrote the checkpoints, or null when the store had no run id. */
  runId: string | null;
  /** Complete checkpoints, oldest first; steps strictly increase. */
  checkpoints: ManifestEntry[];
}

/** Name of the manifest inside a checkpoint directory. */
export const MANIFEST_NAME = 'manifest.json';

/** Largest manifest read: a few kept entries take a few hundred bytes, so more means a wrong file. */
export const MAX_MANIFEST_BYTES = 1024 * 1024;

const MANIFEST_FORMAT = 'distml-checkpoints';
const MANIFEST_VERSION = 1;
const CHECKPOINT_NAME = /^ckpt-(\d{6,})\.dmck$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** The file name of the checkpoint at `step`: zero-padded to six digits so a listing sorts by step. */
export function checkpointFileName(step: number): string {
  return `ckpt-${String(step).padStart(6, '0')}.dmck`;
}

/** The step a checkpoint file name stands for, or undefined when the name is not one this store writes. */
export function stepOfFileName(name: string): number | undefined {
  const match = CHECKPOINT_NAME.exec(name);
  if (match === null) return undefined;
  const step = Number(match[1]);
  // Only the canonical spelling counts, so two names can never claim the same step.
  return Number.isSafeInteger(step) && checkpointFileName(step) === name ? step : undefined;
}

/** The bytes of a manifest: one JSON object, entries oldest first. */
export function encodeManifest(manifest: CheckpointManifest): string {
  const body = { format: MANIFEST_FORMAT, version: MANIFEST_VERSION, ...manifest };
  return `${JSON.stringify(body, null, 2)}\n`;
}

/**
 * Reads and checks a manifest.
 * @returns undefined when there is no manifest
 * @throws CheckpointError (`too-large`, `corrupt`, `unreadable`) naming `path`
 */
export async function readManifest(path: string): Promise<CheckpointManifest | undefined> {
  let bytes: Uint8Array;
  try {
    const handle = await open(path, 'r');
    try {
      const { size } = await handle.stat();
      if (size > MAX_MANIFEST_BYTES) {
        throw new CheckpointError(
          path,
          'too-large',
          `${size} bytes, over the limit of ${MAX_MANIFEST_BYTES}`,
        );
      }
      // Room for one byte past the limit, so a file that grew after stat is still refused.
      const buffer = new Uint8Array(MAX_MANIFEST_BYTES + 1);
      const filled = await readFully(handle, buffer);
      if (filled > MAX_MANIFEST_BYTES) {
        throw new CheckpointError(path, 'too-large', `over the limit of ${MAX_MANIFEST_BYTES} bytes`);
      }
      bytes = buffer.subarray(0, filled);
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (err instanceof CheckpointError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CheckpointError(path, 'unreadable', (err as Error).message);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new CheckpointError(path, 'corrupt', 'not valid UTF-8');
  }
  return parseManifest(text, path);
}

/**
 * Parses and checks the text of a manifest.
 * @throws CheckpointError (`corrupt`) naming `path` and the first bad field
 */
export function parseManifest(text: string, path: string): CheckpointManifest {
  const fail = (detail: string) => new CheckpointError(path, 'corrupt', detail);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw fail(`not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(raw)) throw fail('not a JSON object');
  if (raw.format !== MANIFEST_FORMAT)
    throw fail(`format is ${show(raw.format)}, expected '${MANIFEST_FORMAT}'`);
  if (raw.version !== MANIFEST_VERSION) {
    throw fail(`version is ${show(raw.version)}; this build reads version ${MANIFEST_VERSION}`);
  }
  const runId = raw.runId ?? null;
  if (runId !== null && typeof runId !== 'string') throw fail(`runId is ${show(runId)}, not a string`);
  if (!Array.isArray(raw.checkpoints)) throw fail(`checkpoints is ${show(raw.checkpoints)}, not an array`);

  const checkpoints: ManifestEntry[] = [];
  let previous = -1;
  for (const [i, e] of raw.checkpoints.entries()) {
    const where = `checkpoints[${i}]`;
    if (!isObject(e)) throw fail(`${where} is ${show(e)}, not an object`);
    const { step, file, bytes, sha256 } = e;
    if (!Number.isSafeInteger(step) || (step as number) < 0) {
      throw fail(`${where}.step is ${show(step)}, not a non-negative integer`);
    }
    if ((step as number) <= previous) throw fail(`${where}.step ${step} does not follow step ${previous}`);
    if (file !== checkpointFileName(step as number)) {
      throw fail(`${where}.file is ${show(file)}, expected '${checkpointFileName(step as number)}'`);
    }
    if (!Number.isSafeInteger(bytes) || (bytes as number) < 0) {
      throw fail(`${where}.bytes is ${show(bytes)}, not a non-negative integer`);
    }
    if (typeof sha256 !== 'string' || !SHA256_HEX.test(sha256)) {
      throw fail(`${where}.sha256 is ${show(sha256)}, not 64 lowercase hex digits`);
    }
    checkpoints.push({ step: step as number, file, bytes: bytes as number, sha256 });
    previous = step as number;
  }
  return { runId, checkpoints };
}

/**
 * Fills `buffer` from the start of the file, stopping early only at its end; returns the bytes read.
 * Reads go in 1 GiB pieces because Node refuses a single read over 2 GiB.
 */
export async function readFully(handle: FileHandle, buffer: Uint8Array): Promise<number> {
  let filled = 0;
  while (filled < buffer.byteLength) {
    const length = Math.min(1 << 30, buffer.byteLength - filled);
    const { bytesRead } = await handle.read(buffer, filled, length, filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
