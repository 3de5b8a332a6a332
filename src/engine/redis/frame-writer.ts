/**
 * The frames one socket sends, in order, with payloads of memory the process has not sent before
 * copied out through two reused staging buffers instead of handed to the socket as they are.
 *
 * Why: in the sandbox these benchmarks run in (a gVisor-like kernel), a socket sends pages slowly
 * the first time the process sends them after writing them. Between two Node processes on
 * loopback, 163 MB of a freshly written Float64Array went out in 298–318 ms handed to the socket
 * as is, and in 62–86 ms copied through a 4 MiB buffer that had been sent before (the receiver
 * reading into memory it had used before, in both). The copy costs a memcpy, a few percent of what
 * a network of 10 Gb/s takes for the same bytes. The driver's partitions are such memory: a
 * `distml train` driver reads the file and sends each partition once.
 */
import type { Socket } from 'node:net';
import { type Header, writeFrame } from './channel-frames.ts';

/** Bytes per staged write. */
const STAGE_BYTES = 4 * 1024 * 1024;

/** Writes frames to one socket, in the order they are given. */
export class FrameWriter {
  /** Staged frames still being written; frames given meanwhile wait behind them. */
  private staging = 0;
  private tail: Promise<void> = Promise.resolve();
  private stages: [Buffer, Buffer] | undefined;

  constructor(readonly socket: Socket) {}

  /**
   * Sends one frame. With `stage`, the payload goes out through the staging buffers (see above),
   * and the pieces must not change until it has; else the pieces are handed to the socket, not
   * copied, as {@link writeFrame} does.
   */
  write(header: Header, payload: readonly Uint8Array[] = [], stage = false): void {
    if (!stage && this.staging === 0) {
      writeFrame(this.socket, header, payload);
      return;
    }
    if (!stage) {
      this.tail = this.tail.then(() => void writeFrame(this.socket, header, payload));
      return;
    }
    this.staging++;
    this.tail = this.tail
      .then(() => this.writeStaged(header, payload))
      // A frame cut short would leave the reader mid-payload: the connection cannot go on.
      .catch((err: unknown) => void this.socket.destroy(err as Error))
      .finally(() => {
        this.staging--;
      });
  }

  private async writeStaged(header: Header, payload: readonly Uint8Array[]): Promise<void> {
    const socket = this.socket;
    writeFrame(socket, header);
    this.stages ??= [Buffer.allocUnsafe(STAGE_BYTES), Buffer.allocUnsafe(STAGE_BYTES)];
    const stages: readonly Buffer[] = this.stages;
    // The write of each staging buffer; a buffer is filled again only once its write is done.
    const writing: Promise<void>[] = [Promise.resolve(), Promise.resolve()];
    let k = 0;
    let used = 0;
    for (const piece of payload) {
      for (let at = 0; at < piece.byteLength; ) {
        if (socket.destroyed) return;
        if (used === 0) await writing[k];
        const n = Math.min(STAGE_BYTES - used, piece.byteLength - at);
        const stage = stages[k]!;
        stage.set(piece.subarray(at, at + n), used);
        used += n;
        at += n;
        if (used === STAGE_BYTES) {
          writing[k] = written(socket, stage);
          k ^= 1;
          used = 0;
        }
      }
    }
    if (used > 0) writing[k] = written(socket, stages[k]!.subarray(0, used));
    await Promise.all(writing);
  }
}

/** Writes `bytes`; settles once the socket is done with them (written, or failed: the socket's own error handler hears why). */
function written(socket: Socket, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => socket.write(bytes, () => resolve()));
}
