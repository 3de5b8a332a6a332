/**
 * Checkpoints of a long fit, so a run killed at any instant resumes from its last completed save.
 *
 * A save writes `ckpt-<step>.dmck` atomically (temporary file, fsync, rename, fsync of the
 * directory), then rewrites `manifest.json` the same way, and only then deletes the checkpoints the
 * new manifest no longer lists. A crash therefore leaves, at every instant, a durable manifest whose
 * files all exist. Loading trusts nothing it reads: the manifest records each file's size and
 * SHA-256, and the model-file format checks every tensor's checksum again, so a damaged newest
 * checkpoint is reported and the one before it is used.
 *
 * One store writes to a directory at a time; saves through one store are serialized.
 */
import { type FileHandle, mkdir, open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DistmlError, ModelFileError, ParamError } from '../errors.ts';
import { writeFileAtomic } from '../format/atomic-write.ts';
import { sha256Hex } from '../format/sha256.ts';
import {
  checkFileSize,
  decodeModelFile,
  encodeModelFile,
  type ModelFileContents,
} from '../format/tensor-container.ts';
import type { Tensor } from '../tensor.ts';
import {
  CheckpointError,
  checkpointFileName,
  encodeManifest,
  MANIFEST_NAME,
  type ManifestEntry,
  readFully,
  readManifest,
  stepOfFileName,
} from './checkpoint-manifest.ts';

export { CheckpointError, type CheckpointFault } from './checkpoint-manifest.ts';

/** What a checkpoint holds: enough to continue a fit where it stopped. */
export interface CheckpointState {
  /** The fit's progress counter (iteration, epoch…): a non-negative integer. */
  step: number;
  /** Named parameter vectors; stored bit for bit, NaN payloads and -0 included. */
  tensors: Record<string, Float64Array>;
  /** Plain JSON: optimizer state, RNG state, loss history… (-0 becomes 0, as in JSON). */
  meta: Record<string, unknown>;
}

/** Options of {@link CheckpointStore}. */
export interface CheckpointOptions {
  /**
   * Complete checkpoints kept; older ones are deleted after each save. Keeping more than one lets
   * a resume fall back when the newest is damaged.
   * @defaultValue 2
   */
  keep?: number;
  /**
   * Receives a message for each damaged checkpoint or manifest passed over, naming the file, the
   * fault and what is used instead.
   * @defaultValue `process.emitWarning`
   */
  onWarning?: (message: string) => void;
  /**
   * Identifies the run. When both the store and a checkpoint have one and they differ, loading
   * and saving throw a {@link CheckpointError} with fault `mismatch`.
   * @defaultValue none: checkpoints of any run are accepted
   */
  runId?: string;
  /**
   * What a `mismatch` error tells the user to do, in the words of the caller (the CLI names its
   * options).
   * @defaultValue 'resume with the same run id, or use another checkpoint directory'
   */
  mismatchHint?: string;
}

/** One complete checkpoint, as {@link CheckpointStore.list} reports it. */
export interface CheckpointInfo {
  step: number;
  /** Path of the checkpoint file. */
  file: string;
  /** Size of the whole file in bytes. */
  bytes: number;
  /** Lowercase hex SHA-256 of the whole file. */
  sha256: string;
}

/** A checkpoint file to try; size and checksum are known when a manifest lists it. */
type Candidate = Pick<ManifestEntry, 'step' | 'file'> & Partial<ManifestEntry>;

/** The checkpoints to consider: the manifest's entries, or what a scan of the directory found. */
type Index =
  | { fromManifest: true; candidates: ManifestEntry[] }
  | { fromManifest: false; candidates: Candidate[] };

const CHECKPOINT_KIND = 'checkpoint';
/** Temporary names written by writeFileAtomic for our files: `.<name>.<pid>.<hex>.tmp`. */
const TEMPORARY_NAME = /^\.(?:ckpt-\d{6,}\.dmck|manifest\.json)\.(\d+)\.[0-9a-f]+\.tmp$/;

/** Saves and loads the checkpoints of one run in one directory. */
export class CheckpointStore {
  /** The checkpoint directory; created on the first save. */
  readonly dir: string;
  private readonly keep: number;
  private readonly runId: string | undefined;
  private readonly mismatchHint: string;
  private readonly warn: (message: string) => void;
  /** The last queued save; the next one starts after it settles, so saves never interleave. */
  private tail: Promise<unknown> = Promise.resolve();

  /** @throws ParamError when `keep` is not an integer ≥ 1 or `runId` is empty */
  constructor(dir: string, options: CheckpointOptions = {}) {
    const {
      keep = 2,
      runId,
      onWarning,
      mismatchHint = 'resume with the same run id, or use another checkpoint directory',
    } = options;
    if (!Number.isSafeInteger(keep) || keep < 1) {
      throw new ParamError(`CheckpointStore: keep must be an integer ≥ 1, got ${keep}`);
    }
    if (runId === '') throw new ParamError('CheckpointStore: runId must not be empty');
    this.dir = dir;
    this.keep = keep;
    this.runId = runId;
    this.mismatchHint = mismatchHint;
    this.warn = onWarning ?? ((message) => process.emitWarning(message, 'DistmlCheckpointWarning'));
  }

  /**
   * Saves `state` as the checkpoint of its step. The state is copied before this returns, so the
   * caller may keep updating its tensors while the write proceeds. A checkpoint already saved at
   * this step or later is superseded: resuming from step s and saving s + 1 abandons what an
   * earlier attempt saved after s.
   * @throws ParamError when the step is not a non-negative integer
   * @throws ModelFileError when a tensor name or the meta cannot be stored (nothing is written)
   * @throws CheckpointError (`mismatch`) when the directory holds another run's checkpoints
   * @throws DistmlError (FILE_IO) when the directory or a file cannot be written
   */
  async save(state: CheckpointState): Promise<void> {
    const { step } = state;
    if (!Number.isSafeInteger(step) || step < 0) {
      throw new ParamError(`CheckpointStore.save: step must be a non-negative integer, got ${step}`);
    }
    const tensors: Record<string, Tensor> = {};
    for (const [name, data] of Object.entries(state.tensors)) {
      tensors[name] = { dtype: 'f64', shape: [data.length], data };
    }
    const file = checkpointFileName(step);
    const bytes = encodeModelFile(
      { kind: CHECKPOINT_KIND, params: {}, meta: { step, runId: this.runId, state: state.meta }, tensors },
      { fileName: join(this.dir, file) },
    );
    const done = this.tail.then(() =>
      this.write({ step, file, bytes: bytes.byteLength, sha256: sha256Hex(bytes) }, bytes),
    );
    this.tail = done.catch(() => undefined);
    return done;
  }

  /**
   * The newest checkpoint that verifies: size, whole-file SHA-256, every tensor's checksum, kind
   * and step. Each damaged checkpoint passed over is reported through `onWarning`.
   * @returns undefined when no checkpoint verifies (or there is none)
   * @throws CheckpointError (`mismatch`) when the checkpoints belong to another run
   */
  async latest(): Promise<CheckpointState | undefined> {
    const { candidates } = await this.index('scanning the checkpoint files instead');
    const failures: CheckpointError[] = [];
    for (const candidate of candidates.toReversed()) {
      try {
        const { state } = await this.verify(candidate);
        for (const err of failures) this.warn(`${err.message}; using ${candidate.file}`);
        return state;
      } catch (err) {
        if (!(err instanceof CheckpointError) || err.fault === 'mismatch') throw err;
        failures.push(err);
      }
    }
    for (const err of failures) this.warn(`${err.message}; no older checkpoint verifies`);
    return undefined;
  }

  /**
   * The complete checkpoints, oldest first, as the manifest records them. Without a usable
   * manifest, the checkpoint files that verify.
   * @throws CheckpointError (`mismatch`) when the checkpoints belong to another run
   */
  async list(): Promise<CheckpointInfo[]> {
    const index = await this.index('scanning the checkpoint files instead');
    const entries = index.fromManifest
      ? index.candidates
      : await this.verifyAll(index.candidates, 'not listed');
    return entries.map((e) => ({ ...e, file: join(this.dir, e.file) }));
  }

  /** The body of a save, run after every earlier save has settled. */
  private async write(entry: ManifestEntry, bytes: Uint8Array): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true });
    } catch (err) {
      const message = `cannot create checkpoint directory ${this.dir}: ${(err as Error).message}`;
      throw new DistmlError('FILE_IO', message, undefined, { cause: err });
    }
    const index = await this.index('writing a new one');
    // Files the manifest lists were checked when they were saved; files found by a scan were not.
    const previous = index.fromManifest
      ? index.candidates
      : await this.verifyAll(index.candidates, 'removing it');
    const older = previous.filter((e) => e.step < entry.step);
    const kept = [...older.slice(Math.max(0, older.length - (this.keep - 1))), entry];

    await writeFileAtomic(join(this.dir, entry.file), bytes);
    const manifest = encodeManifest({ runId: this.runId ?? null, checkpoints: kept });
    await writeFileAtomic(join(this.dir, MANIFEST_NAME), manifest);
    // Only now is the new manifest durable, so deleting what it no longer lists loses nothing.
    await this.removeUnlisted(new Set(kept.map((e) => e.file)));
  }

  /**
   * The checkpoints to consider, oldest first: the manifest's entries, or every checkpoint file in
   * the directory when the manifest is missing or unusable.
   * @param instead - what a warning about an unusable manifest says happens next
   */
  private async index(instead: string): Promise<Index> {
    const path = join(this.dir, MANIFEST_NAME);
    try {
      const manifest = await readManifest(path);
      if (manifest !== undefined) {
        this.checkRun(manifest.runId ?? undefined, path);
        return { fromManifest: true, candidates: manifest.checkpoints };
      }
    } catch (err) {
      if (!(err instanceof CheckpointError) || err.fault === 'mismatch') throw err;
      this.warn(`${err.message}; ${instead}`);
    }
    return { candidates: await this.scan(), fromManifest: false };
  }

  /** Every checkpoint file in the directory, oldest first; none when the directory does not exist. */
  private async scan(): Promise<Candidate[]> {
    const candidates: Candidate[] = [];
    for (const file of await this.names()) {
      const step = stepOfFileName(file);
      if (step !== undefined) candidates.push({ step, file });
    }
    return candidates.sort((a, b) => a.step - b.step);
  }

  /**
   * Reads and checks one checkpoint.
   * @throws CheckpointError naming the file and the fault
   */
  private async verify(candidate: Candidate): Promise<{ state: CheckpointState; entry: ManifestEntry }> {
    const { step, file } = candidate;
    const path = join(this.dir, file);
    const bytes = await this.readCheckpoint(path, candidate.bytes);
    const digest = sha256Hex(bytes);
    if (candidate.sha256 !== undefined && digest !== candidate.sha256) {
      const detail = `checksum mismatch: the file's sha256 is ${digest.slice(0, 12)}…, the manifest says ${candidate.sha256.slice(0, 12)}…`;
      throw new CheckpointError(path, 'corrupt', detail);
    }
    let contents: ModelFileContents;
    try {
      contents = decodeModelFile(bytes, file);
    } catch (err) {
      if (!(err instanceof ModelFileError)) throw err;
      // The model-file message starts with the file name, which the checkpoint message already has.
      const detail = err.message.startsWith(`${file}: `) ? err.message.slice(file.length + 2) : err.message;
      throw new CheckpointError(path, err.fault === 'truncated' ? 'truncated' : 'corrupt', detail);
    }
    const { kind, meta, tensors } = contents;
    const bad = (detail: string) => new CheckpointError(path, 'corrupt', detail);
    if (kind !== CHECKPOINT_KIND) throw bad(`its kind is '${kind}', not '${CHECKPOINT_KIND}'`);
    if (meta.step !== step) throw bad(`it records step ${JSON.stringify(meta.step)}, its name says ${step}`);
    if (meta.runId !== undefined && typeof meta.runId !== 'string') throw bad('its runId is not a string');
    this.checkRun(meta.runId, path);
    const userMeta = meta.state;
    if (userMeta === null || typeof userMeta !== 'object' || Array.isArray(userMeta)) {
      throw bad('its meta.state is not an object');
    }
    const out: Record<string, Float64Array> = {};
    for (const [name, tensor] of Object.entries(tensors)) {
      if (!(tensor.data instanceof Float64Array)) throw bad(`tensor '${name}' is ${tensor.dtype}, not f64`);
      out[name] = tensor.data;
    }
    const state = { step, tensors: out, meta: userMeta as Record<string, unknown> };
    return { state, entry: { step, file, bytes: bytes.byteLength, sha256: digest } };
  }

  /**
   * Verifies each candidate and returns the entries of those that pass, oldest first; each failure
   * is reported with `outcome` saying what happens to the file.
   */
  private async verifyAll(candidates: readonly Candidate[], outcome: string): Promise<ManifestEntry[]> {
    const entries: ManifestEntry[] = [];
    for (const candidate of candidates) {
      try {
        entries.push((await this.verify(candidate)).entry);
      } catch (err) {
        if (!(err instanceof CheckpointError) || err.fault === 'mismatch') throw err;
        this.warn(`${err.message}; ${outcome}`);
      }
    }
    return entries;
  }

  /**
   * Reads a whole checkpoint file, checking its size first against the manifest and the model-file
   * limit so nothing oversized is allocated.
   */
  private async readCheckpoint(path: string, expectedBytes: number | undefined): Promise<Uint8Array> {
    let handle: FileHandle | undefined;
    try {
      handle = await open(path, 'r');
      const { size } = await handle.stat();
      if (expectedBytes !== undefined && size !== expectedBytes) {
        const detail = `${size} bytes, the manifest says ${expectedBytes}`;
        throw new CheckpointError(path, size < expectedBytes ? 'truncated' : 'corrupt', detail);
      }
      checkFileSize(size, path);
      const buffer = new Uint8Array(size);
      return buffer.subarray(0, await readFully(handle, buffer));
    } catch (err) {
      if (err instanceof CheckpointError) throw err;
      if (err instanceof ModelFileError) throw new CheckpointError(path, 'too-large', err.message);
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new CheckpointError(path, 'missing', 'the file does not exist');
      }
      throw new CheckpointError(path, 'unreadable', (err as Error).message);
    } finally {
      await handle?.close();
    }
  }

  /** @throws CheckpointError (`mismatch`) when `found` and this store's run id are both set and differ */
  private checkRun(found: string | undefined, path: string): void {
    if (found === undefined || this.runId === undefined || found === this.runId) return;
    const detail = `written by run '${found}', this is run '${this.runId}'`;
    throw new CheckpointError(path, 'mismatch', detail, this.mismatchHint);
  }

  /**
   * Deletes checkpoint files not in `listed` and temporary files left by crashed writers. A
   * temporary file whose writer is still alive is left alone, since its rename is yet to come.
   */
  private async removeUnlisted(listed: ReadonlySet<string>): Promise<void> {
    for (const name of await this.names()) {
      const temporary = TEMPORARY_NAME.exec(name);
      const stale =
        temporary !== null
          ? !isAlive(Number(temporary[1]))
          : stepOfFileName(name) !== undefined && !listed.has(name);
      if (!stale) continue;
      try {
        await rm(join(this.dir, name), { force: true });
      } catch (err) {
        // The new checkpoint is already durable; a leftover file only costs space until the next save.
        this.warn(`cannot remove ${join(this.dir, name)}: ${(err as Error).message}`);
      }
    }
  }

  /** The entries of the directory; none when it does not exist. */
  private async names(): Promise<string[]> {
    try {
      return await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      const message = `cannot list checkpoint directory ${this.dir}: ${(err as Error).message}`;
      throw new DistmlError('FILE_IO', message, undefined, { cause: err });
    }
  }
}

/** Whether a process with this id exists; EPERM means it exists but belongs to another user. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
