/**
 * The driver's direct TCP channel with its workers, beside Redis. The cluster benchmark showed
 * Redis as the bottleneck of every large transfer: a tensor written to Redis by one process and
 * read back by another crosses one single-threaded server twice. Over this channel the driver's
 * tensors (partitions it placed, kernel arguments, broadcasts) are fetched by the workers straight
 * from the driver's memory, and task results come back straight into a Float64Array the driver
 * allocated for them.
 *
 * Redis stays the coordination layer: tasks still travel and complete through BullMQ, the driver
 * only uses the result bytes of the attempt BullMQ reports as completed (a stale attempt's bytes
 * are discarded), so the fencing of results is unchanged. A worker sends its result before it
 * completes the job and waits for the driver's acknowledgement, so the bytes are always there when
 * the completion is.
 *
 * Authentication, both ways: the driver greets each connection with a random nonce and the worker
 * answers with HMAC-SHA256(key, nonce ‖ its worker id) and a nonce of its own, which the driver
 * answers in turn (a worker takes tensors only from a driver that proved the key). Knowing which
 * worker holds a connection lets the driver push a pass's arguments to a task's owner as it
 * queues the task, instead of waiting to be asked: the bytes travel while the queue does its work. The key is derived from the
 * cluster secret when there is one, or is a per-run token carried in the signed task messages
 * otherwise (the same trust as Redis itself). The channel is plain TCP: with `rediss://` the engine
 * does not open it, and everything goes through Redis's TLS connection. Frames are
 * `u32 header length | JSON header | payload`, sizes checked before any payload is read
 * (channel-frames.ts). This file is the driver's end; worker-channels.ts is the workers'.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { readAccepted } from './accepted-onread.ts';
import {
  byteLength,
  driverProof,
  FrameReader,
  type Header,
  sameProof,
  workerProof,
} from './channel-frames.ts';
import { Float64Pool } from './float64-pool.ts';
import { FrameWriter } from './frame-writer.ts';
import { MAX_VALUE_BYTES } from './tensor-codec.ts';

/** One authenticated worker connection on the driver, and the values already pushed over it. */
interface Peer {
  readonly socket: Socket;
  /** Every frame to this worker goes through it, so that a staged partition and others keep their order. */
  readonly out: FrameWriter;
  readonly worker: string;
  readonly pushed: Set<string>;
}

/** A result the driver is waiting for: its size, and the bytes of each attempt that arrived. */
interface Expected {
  readonly bytes: number;
  readonly attempts: Map<number, Float64Array>;
  readonly onArriving: ArrivingResult | undefined;
}

/**
 * Told, as a result's bytes arrive, how many of its float64s are in `result` (the array it arrives
 * in, which {@link DriverChannel.take} then gives); the fence has not judged the result yet.
 */
export type ArrivingResult = (result: Float64Array, elements: number) => void;

/** What a worker says of the task run whose result it sends, beside the result. */
export interface RunFacts {
  readonly runSeconds: number;
  readonly worker: string;
  readonly workerId: string;
  /** The worker's thread (task slot) that ran it, from 0. */
  readonly thread?: number;
}

function isRunFacts(h: Header): boolean {
  return (
    typeof h.runSeconds === 'number' &&
    Number.isFinite(h.runSeconds) &&
    typeof h.worker === 'string' &&
    typeof h.workerId === 'string' &&
    (h.thread === undefined || Number.isSafeInteger(h.thread))
  );
}

/**
 * The driver's end: a TCP server that serves the values it holds to authenticated workers and
 * receives the results of the tasks it expects.
 */
export class DriverChannel {
  private readonly expected = new Map<string, Expected>();
  private readonly values = new Map<string, { pieces: readonly Uint8Array[]; kind: string }>();
  /** Bytes sent to workers, by the kind of value given to {@link serve}. */
  readonly bytesServedByKind: Record<string, number> = {};
  private readonly sockets = new Set<Socket>();
  /** The latest authenticated connection of each worker id. */
  private readonly peers = new Map<string, Peer>();
  /** Result frames for tasks no longer expected (stale attempts, finished passes). */
  discarded = 0;
  /** Connections refused for a bad greeting or frame. */
  refused = 0;
  /** Values sent to workers (asked for or pushed), and their bytes. */
  served = 0;
  /** Of {@link served}: values pushed to a task's owner before it asked. */
  pushed = 0;
  bytesServed = 0;
  /** Result bytes received for expected tasks. */
  bytesReceived = 0;
  /**
   * Called once the whole result of an expected attempt has arrived (and been acknowledged): the
   * driver may use it at once, without waiting for the job's completion to travel through Redis.
   */
  onResult: ((jobId: string, attempt: number, facts: RunFacts) => void) | undefined;
  /** Called when a result arrives for a job no longer expected (a superseded or finished one). */
  onDiscarded: ((jobId: string) => void) | undefined;
  /**
   * Buffers results arrive in, and sums of them computed as they arrive, of the sizes of the
   * passes' results: see {@link recycle}. A pass of P partitions holds up to P results and P − 1
   * sums at once.
   */
  private readonly results = new Float64Pool(false, 8);

  private constructor(
    private readonly server: Server,
    readonly host: string,
    readonly port: number,
  ) {}

  /** Listens on `host`, on `port` (0: a free one). */
  static async open(
    host: string,
    key: Buffer,
    log: (line: string) => void,
    port = 0,
  ): Promise<DriverChannel> {
    // Paused, so that no byte is read before the connection's reader is in place.
    const server = createServer({ pauseOnConnect: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const address = server.address();
    const channel = new DriverChannel(
      server,
      host,
      typeof address === 'object' && address !== null ? address.port : 0,
    );
    server.on('connection', (socket) => channel.accept(socket, key, log));
    return channel;
  }

  /** Where workers reach the driver: `host:port`. */
  get address(): string {
    return `${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
  }

  /**
   * Serves `pieces` (sent one after another, as one value, without a copy) under `name` until
   * {@link withdraw}. The caller must not change them meanwhile.
   */
  serve(name: string, pieces: readonly Uint8Array[], kind = 'value'): void {
    if (byteLength(pieces) > MAX_VALUE_BYTES)
      throw new RangeError(`value ${name} is over the limit of ${MAX_VALUE_BYTES} bytes`);
    this.values.set(name, { pieces, kind });
  }

  /** Stops serving `names`; a worker that asks for one later hears that it is gone. */
  withdraw(...names: string[]): void {
    for (const name of names) {
      this.values.delete(name);
      for (const peer of this.peers.values()) peer.pushed.delete(name);
    }
  }

  /**
   * Sends value `name` to worker `worker` before it asks, if it is connected and has not had it
   * yet; the worker keeps a few pushed values, and a later fetch of this one is answered "sent".
   * Returns whether it was pushed.
   */
  push(worker: string, name: string): boolean {
    const peer = this.peers.get(worker);
    const value = this.values.get(name);
    if (peer === undefined || value === undefined || peer.pushed.has(name) || peer.socket.destroyed)
      return false;
    peer.pushed.add(name);
    this.pushed++;
    this.send(peer.out, { value: name, pushed: true }, value);
    return true;
  }

  /**
   * Accepts result bytes for job `jobId`, exactly `bytes` long, until {@link forget}; `onArriving`
   * hears of them as they arrive.
   */
  expect(jobId: string, bytes: number, onArriving?: ArrivingResult): void {
    this.expected.set(jobId, { bytes, attempts: new Map(), onArriving });
  }

  /** The bytes attempt `attempt` of `jobId` sent, if they arrived. */
  take(jobId: string, attempt: number): Float64Array | undefined {
    return this.expected.get(jobId)?.attempts.get(attempt);
  }

  /** An array of `length` from the memory results arrive in, for sums computed from them. */
  allocate(length: number): Float64Array {
    return this.results.take(length);
  }

  /**
   * Takes back a result array that was {@link take}n and is no longer used by anyone (folded into
   * another result), for a later result of its size to arrive in.
   */
  recycle(result: Float64Array): void {
    this.results.give(result);
  }

  /**
   * Stops accepting results for `jobId`, and for the ids it was requeued under (`jobId-rN`, see
   * placement.ts), and frees what arrived for them.
   */
  forget(jobId: string): void {
    this.expected.delete(jobId);
    for (const id of this.expected.keys()) if (id.startsWith(`${jobId}-r`)) this.expected.delete(id);
  }

  async close(): Promise<void> {
    this.values.clear();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(accepted: Socket, key: Buffer, log: (line: string) => void): void {
    const nonce = randomBytes(16);
    let trusted = false;
    let peer: Peer | undefined;
    let out: FrameWriter | undefined;
    const refuse = (why: string) => {
      this.refused++;
      log(`task channel: refused a connection from ${socket.remoteAddress}: ${why}`);
      socket.destroy();
    };
    const reader = new FrameReader(
      (h) => (trusted && Number.isSafeInteger(h.bytes) && (h.bytes as number) >= 0 ? (h.bytes as number) : 0),
      (h) => {
        const wanted = this.expected.get(String(h.jobId));
        if (wanted === undefined) return 'skip';
        if (wanted.bytes !== h.bytes || !Number.isSafeInteger(h.attempt)) {
          refuse(`a result of ${String(h.bytes)} bytes for ${String(h.jobId)}, expected ${wanted.bytes}`);
          return 'skip';
        }
        const out = this.results.take(wanted.bytes / 8);
        wanted.attempts.set(h.attempt as number, out);
        this.bytesReceived += wanted.bytes;
        return new Uint8Array(out.buffer);
      },
      (h, payload) => {
        if (!trusted) {
          const worker = typeof h.worker === 'string' && /^[\w.-]{1,64}$/.test(h.worker) ? h.worker : '';
          if (!sameProof(h.proof, workerProof(key, nonce, worker))) {
            refuse('its greeting does not prove the cluster key');
            return;
          }
          if (typeof h.nonce !== 'string' || !/^[0-9a-f]{32}$/.test(h.nonce)) {
            refuse('its greeting carries no nonce for the driver to answer');
            return;
          }
          trusted = true;
          peer = { socket, out: out!, pushed: new Set(), worker };
          if (worker !== '') this.peers.set(worker, peer);
          socket.on('close', () => {
            if (this.peers.get(worker) === peer) this.peers.delete(worker);
          });
          out!.write({
            welcome: true,
            proof: driverProof(key, Buffer.from(h.nonce, 'hex')).toString('hex'),
          });
          return;
        }
        if (typeof h.fetch === 'string') {
          this.answerFetch(peer!, h.fetch, h.id, h.again === true);
          return;
        }
        out!.write({ ack: h.jobId, attempt: h.attempt });
        if (payload === undefined) {
          this.discarded++;
          this.onDiscarded?.(String(h.jobId));
        } else if (isRunFacts(h))
          this.onResult?.(String(h.jobId), h.attempt as number, h as unknown as RunFacts);
      },
      refuse,
      (h, filled) => {
        const wanted = this.expected.get(String(h.jobId));
        const result = wanted?.attempts.get(h.attempt as number);
        if (result !== undefined) wanted!.onArriving?.(result, Math.floor(filled / 8));
      },
    );
    // Results are read straight into the arrays they arrive in (accepted-onread.ts).
    const socket = readAccepted(accepted, reader.onread(), (s) => reader.attach(s));
    out = new FrameWriter(socket);
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    out.write({ nonce: nonce.toString('hex') });
  }

  /**
   * Answers a worker's fetch: the value; "sent" when it was pushed to this connection already (TCP
   * keeps order, so the worker has it by the time it reads the answer) unless asked `again`
   * (the worker no longer holds it); or "missing".
   */
  private answerFetch(peer: Peer, name: string, id: unknown, again: boolean): void {
    const value = this.values.get(name);
    if (value === undefined) peer.out.write({ value: name, id, missing: true });
    else if (peer.pushed.has(name) && !again) peer.out.write({ value: name, id, sent: true });
    else {
      // Sent once to this connection: a push of it that comes later is skipped.
      peer.pushed.add(name);
      this.send(peer.out, { value: name, id }, value);
    }
  }

  private send(
    out: FrameWriter,
    header: Header,
    value: { pieces: readonly Uint8Array[]; kind: string },
  ): void {
    const bytes = byteLength(value.pieces);
    this.served++;
    this.bytesServed += bytes;
    this.bytesServedByKind[value.kind] = (this.bytesServedByKind[value.kind] ?? 0) + bytes;
    // A partition is the driver's data as read, sent once: memory this process has not sent before
    // (frame-writer.ts). Arguments and broadcasts mostly live in memory reused pass after pass.
    out.write({ ...header, bytes }, value.pieces, value.kind === 'partition');
  }
}
