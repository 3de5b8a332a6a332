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
 * `u32 header length | JSON header | payload`, sizes checked before any payload is read.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { MAX_VALUE_BYTES } from './tensor-codec.ts';

/** Largest frame header accepted; headers are a few dozen bytes. */
const MAX_HEADER_BYTES = 4096;

/** The key both ends prove knowledge of: derived from the cluster secret, or the run's token. */
export function channelKey(run: string, secret: Buffer | undefined, token: string | undefined): Buffer {
  if (secret !== undefined) return createHmac('sha256', secret).update(`result-channel:${run}`).digest();
  if (token === undefined) throw new Error('a task channel needs the cluster secret or a run token');
  return Buffer.from(token, 'hex');
}

/** The worker's proof, answering the driver's nonce, bound to the worker id it claims. */
function workerProof(key: Buffer, nonce: Buffer, worker: string): Buffer {
  return createHmac('sha256', key).update(nonce).update(`worker:${worker}`).digest();
}

/** The driver's proof, answering the worker's nonce: a different message from the worker's own. */
function driverProof(key: Buffer, nonce: Buffer): Buffer {
  return createHmac('sha256', key).update('driver:').update(nonce).digest();
}

function sameProof(given: unknown, expected: Buffer): boolean {
  const proof = Buffer.from(typeof given === 'string' ? given : '', 'hex');
  return proof.length === expected.length && timingSafeEqual(proof, expected);
}

type Header = Readonly<Record<string, unknown>>;

/** Writes one frame: header length, header, then the payload's pieces (not copied). */
function writeFrame(socket: Socket, header: Header, payload: readonly Uint8Array[] = []): boolean {
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(json.byteLength);
  socket.write(length);
  let flowing = socket.write(json);
  for (const piece of payload) flowing = socket.write(piece);
  return flowing;
}

function byteLength(pieces: readonly Uint8Array[]): number {
  let n = 0;
  for (const p of pieces) n += p.byteLength;
  return n;
}

/**
 * Reads frames from a socket. `payloadFor` says where a frame's payload goes: a buffer of exactly
 * its size, 'skip' to drop it, or undefined for frames without one.
 */
class FrameReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private header: Header | undefined;
  private target: Uint8Array | 'skip' | undefined;
  private remaining = 0;
  private filled = 0;

  constructor(
    socket: Socket,
    private readonly payloadBytes: (header: Header) => number,
    private readonly payloadFor: (header: Header) => Uint8Array | 'skip' | undefined,
    private readonly onFrame: (header: Header, payload: Uint8Array | undefined) => void,
    private readonly onBad: (why: string) => void,
  ) {
    socket.on('data', (chunk: Buffer) => this.feed(chunk));
  }

  private feed(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.byteLength) {
      if (this.header !== undefined) {
        const n = Math.min(this.remaining, chunk.byteLength - at);
        if (this.target !== 'skip' && this.target !== undefined)
          this.target.set(chunk.subarray(at, at + n), this.filled);
        this.filled += n;
        this.remaining -= n;
        at += n;
        if (this.remaining === 0) this.finish();
        continue;
      }
      this.pending.push(chunk.subarray(at));
      this.pendingBytes += chunk.byteLength - at;
      at = chunk.byteLength;
      if (!this.parseHeader()) return;
      // What followed the header in the pending bytes is payload or the next frame: feed it again.
      const rest = Buffer.concat(this.pending);
      this.pending = [];
      this.pendingBytes = 0;
      if (this.remaining === 0) this.finish();
      if (rest.byteLength > 0) this.feed(rest);
    }
  }

  /** Takes a whole header off the pending bytes; false when more bytes are needed or it was bad. */
  private parseHeader(): boolean {
    if (this.pendingBytes < 4) return false;
    const all = Buffer.concat(this.pending);
    const length = all.readUInt32LE(0);
    if (length > MAX_HEADER_BYTES) {
      this.onBad(`a frame header of ${length} bytes (at most ${MAX_HEADER_BYTES})`);
      return false;
    }
    if (all.byteLength < 4 + length) {
      this.pending = [all];
      return false;
    }
    let header: Header;
    try {
      header = JSON.parse(all.subarray(4, 4 + length).toString('utf8')) as Header;
    } catch {
      this.onBad('a frame header that is not JSON');
      return false;
    }
    if (typeof header !== 'object' || header === null) {
      this.onBad('a frame header that is not an object');
      return false;
    }
    this.header = header;
    this.remaining = this.payloadBytes(header);
    this.filled = 0;
    this.target = this.remaining > 0 ? this.payloadFor(header) : undefined;
    this.pending = [all.subarray(4 + length)];
    this.pendingBytes = all.byteLength - 4 - length;
    return true;
  }

  private finish(): void {
    const header = this.header!;
    const target = this.target;
    this.header = undefined;
    this.target = undefined;
    this.onFrame(header, target === 'skip' ? undefined : target);
  }
}

/** One authenticated worker connection on the driver, and the values already pushed over it. */
interface Peer {
  readonly socket: Socket;
  readonly worker: string;
  readonly pushed: Set<string>;
}

/** A result the driver is waiting for: its size, and the bytes of each attempt that arrived. */
interface Expected {
  readonly bytes: number;
  readonly attempts: Map<number, Float64Array>;
}

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
    const server = createServer();
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
    this.send(peer.socket, { value: name, pushed: true }, value);
    return true;
  }

  /** Accepts result bytes for job `jobId`, exactly `bytes` long, until {@link forget}. */
  expect(jobId: string, bytes: number): void {
    this.expected.set(jobId, { bytes, attempts: new Map() });
  }

  /** The bytes attempt `attempt` of `jobId` sent, if they arrived. */
  take(jobId: string, attempt: number): Float64Array | undefined {
    return this.expected.get(jobId)?.attempts.get(attempt);
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

  private accept(socket: Socket, key: Buffer, log: (line: string) => void): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    const nonce = randomBytes(16);
    let trusted = false;
    let peer: Peer | undefined;
    const refuse = (why: string) => {
      this.refused++;
      log(`task channel: refused a connection from ${socket.remoteAddress}: ${why}`);
      socket.destroy();
    };
    new FrameReader(
      socket,
      (h) => (trusted && Number.isSafeInteger(h.bytes) && (h.bytes as number) >= 0 ? (h.bytes as number) : 0),
      (h) => {
        const wanted = this.expected.get(String(h.jobId));
        if (wanted === undefined) return 'skip';
        if (wanted.bytes !== h.bytes || !Number.isSafeInteger(h.attempt)) {
          refuse(`a result of ${String(h.bytes)} bytes for ${String(h.jobId)}, expected ${wanted.bytes}`);
          return 'skip';
        }
        const out = new Float64Array(wanted.bytes / 8);
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
          peer = { socket, worker, pushed: new Set() };
          if (worker !== '') this.peers.set(worker, peer);
          socket.on('close', () => {
            if (this.peers.get(worker) === peer) this.peers.delete(worker);
          });
          writeFrame(socket, {
            welcome: true,
            proof: driverProof(key, Buffer.from(h.nonce, 'hex')).toString('hex'),
          });
          return;
        }
        if (typeof h.fetch === 'string') {
          this.answerFetch(peer!, h.fetch, h.id, h.again === true);
          return;
        }
        writeFrame(socket, { ack: h.jobId, attempt: h.attempt });
        if (payload === undefined) {
          this.discarded++;
          this.onDiscarded?.(String(h.jobId));
        } else if (isRunFacts(h))
          this.onResult?.(String(h.jobId), h.attempt as number, h as unknown as RunFacts);
      },
      refuse,
    );
    writeFrame(socket, { nonce: nonce.toString('hex') });
  }

  /**
   * Answers a worker's fetch: the value; "sent" when it was pushed to this connection already (TCP
   * keeps order, so the worker has it by the time it reads the answer) unless asked `again`
   * (the worker no longer holds it); or "missing".
   */
  private answerFetch(peer: Peer, name: string, id: unknown, again: boolean): void {
    const value = this.values.get(name);
    if (value === undefined) writeFrame(peer.socket, { value: name, id, missing: true });
    else if (peer.pushed.has(name) && !again) writeFrame(peer.socket, { value: name, id, sent: true });
    else this.send(peer.socket, { value: name, id }, value);
  }

  private send(socket: Socket, header: Header, value: { pieces: readonly Uint8Array[]; kind: string }): void {
    const bytes = byteLength(value.pieces);
    this.served++;
    this.bytesServed += bytes;
    this.bytesServedByKind[value.kind] = (this.bytesServedByKind[value.kind] ?? 0) + bytes;
    writeFrame(socket, { ...header, bytes }, value.pieces);
  }
}

/**
 * A worker's end: one authenticated connection per driver, over which it fetches the driver's
 * values and sends its results.
 */
export class WorkerChannels {
  private readonly connections = new Map<string, Promise<Connection>>();

  /** @param worker - this worker's id, named in its greeting so the driver can push to it */
  constructor(private readonly worker: string) {}

  /**
   * Sends `data` as the result of attempt `attempt` of `jobId` to the driver at `address`, with
   * the facts of its run, and resolves once the driver acknowledged it. Rejects when the driver
   * cannot be reached, refuses the greeting, or does not answer within `timeoutMs`.
   */
  async send(
    address: string,
    key: Buffer,
    jobId: string,
    attempt: number,
    data: Float64Array,
    facts: RunFacts,
    timeoutMs = 30_000,
  ): Promise<void> {
    await this.use(address, key, timeoutMs, (c) => c.send(jobId, attempt, data, facts, timeoutMs));
  }

  /**
   * The value the driver at `address` serves under `name`, in shared memory of its own that starts
   * at offset 0 (so float64 views of it need no copy, on any thread); null when the driver no longer
   * serves it. Rejects as {@link send} does.
   */
  fetch(address: string, key: Buffer, name: string, timeoutMs = 60_000): Promise<Buffer | null> {
    return this.use(address, key, timeoutMs, (c) => c.fetch(name, timeoutMs));
  }

  close(): void {
    for (const c of this.connections.values()) void c.then((x) => x.close()).catch(() => {});
    this.connections.clear();
  }

  private async use<T>(
    address: string,
    key: Buffer,
    timeoutMs: number,
    call: (c: Connection) => Promise<T>,
  ): Promise<T> {
    const id = `${address}/${key.toString('hex').slice(0, 16)}`;
    let connection = this.connections.get(id);
    if (connection === undefined) {
      connection = Connection.open(address, key, this.worker, timeoutMs);
      this.connections.set(id, connection);
      connection.catch(() => this.connections.delete(id));
    }
    const c = await connection;
    try {
      return await call(c);
    } catch (err) {
      this.connections.delete(id);
      c.close();
      throw err;
    }
  }
}

/** A value being fetched: where its bytes go, and who waits for them. */
interface Fetch {
  target: Buffer | undefined;
  settle(value: Buffer | null | Error): void;
}

/** Pushed values a connection keeps until asked for (a pass's arguments: one or two at a time). */
const PUSHED_KEPT = 4;

class Connection {
  private readonly acks = new Map<string, () => void>();
  private readonly fetches = new Map<number, Fetch>();
  /** Values the driver pushed, by name, oldest first; and the one arriving now. */
  private readonly pushed = new Map<string, Buffer>();
  private arriving: { name: string; target: Buffer } | undefined;
  private nextFetch = 1;
  private failure: Error | undefined;
  private readonly failed = new Set<(err: Error) => void>();

  private constructor(private readonly socket: Socket) {}

  static open(address: string, key: Buffer, worker: string, timeoutMs: number): Promise<Connection> {
    const colon = address.lastIndexOf(':');
    const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
    const port = Number(address.slice(colon + 1));
    return new Promise<Connection>((resolve, reject) => {
      const socket = createConnection({ host, port });
      socket.setNoDelay(true);
      const c = new Connection(socket);
      const nonce = randomBytes(16);
      let trusted = false;
      const timer = setTimeout(
        () => fail(new Error(`no greeting from ${address} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const fail = (err: Error) => {
        clearTimeout(timer);
        c.fail(err);
        socket.destroy();
        reject(err);
      };
      socket.on('error', (err) => fail(err));
      socket.on('close', () => fail(new Error(`the driver at ${address} closed the task channel`)));
      new FrameReader(
        socket,
        (h) => c.payloadBytes(trusted, h),
        (h) =>
          h.pushed === true
            ? (c.arriving?.target ?? 'skip')
            : (c.fetches.get(h.id as number)?.target ?? 'skip'),
        (h) => {
          if (!trusted && typeof h.nonce === 'string') {
            const proof = workerProof(key, Buffer.from(h.nonce, 'hex'), worker).toString('hex');
            writeFrame(socket, { proof, nonce: nonce.toString('hex'), worker });
          } else if (!trusted && h.welcome === true) {
            if (!sameProof(h.proof, driverProof(key, nonce))) {
              fail(new Error(`the server at ${address} does not prove the cluster key: not the driver`));
              return;
            }
            trusted = true;
            clearTimeout(timer);
            resolve(c);
          } else if (trusted && typeof h.ack === 'string') {
            c.acks.get(`${h.ack}#${String(h.attempt)}`)?.();
          } else if (trusted && typeof h.value === 'string' && h.pushed === true) {
            c.keepPushed(h.value);
          } else if (trusted && typeof h.value === 'string') {
            c.answered(h);
          }
        },
        (why) => fail(new Error(`the driver at ${address} sent ${why}`)),
      );
    });
  }

  /** Payload size of a frame: only a trusted driver's values carry one, within the size limit. */
  private payloadBytes(trusted: boolean, h: Header): number {
    if (!trusted || typeof h.value !== 'string' || !Number.isSafeInteger(h.bytes)) return 0;
    const bytes = h.bytes as number;
    const f = h.pushed === true ? undefined : this.fetches.get(h.id as number);
    if (bytes < 0 || bytes > MAX_VALUE_BYTES) {
      f?.settle(new Error(`value ${h.value} is ${bytes} bytes, over the limit of ${MAX_VALUE_BYTES}`));
      this.fail(new Error(`the driver sent a value of ${bytes} bytes`));
      this.socket.destroy();
      return 0;
    }
    // Shared memory of its own: offset 0, so a float64 view of it is aligned, and kernel threads
    // read it in place (kernel-threads.ts).
    const target = Buffer.from(new SharedArrayBuffer(bytes));
    if (h.pushed === true) this.arriving = { name: h.value, target };
    else if (f !== undefined) f.target = target;
    return bytes;
  }

  /** A pushed value arrived whole: kept, the oldest dropped beyond {@link PUSHED_KEPT}. */
  private keepPushed(name: string): void {
    const arriving = this.arriving;
    this.arriving = undefined;
    if (arriving === undefined || arriving.name !== name) return;
    this.pushed.delete(name);
    this.pushed.set(name, arriving.target);
    if (this.pushed.size > PUSHED_KEPT) this.pushed.delete(this.pushed.keys().next().value as string);
  }

  /** The driver answered fetch `h.id`: the value, "missing", or "sent" (pushed before). */
  private answered(h: Header): void {
    const f = this.fetches.get(h.id as number);
    if (f === undefined) return;
    if (h.missing === true) f.settle(null);
    else if (h.sent !== true) f.settle(f.target ?? null);
    else {
      const value = this.pushed.get(h.value as string);
      if (value !== undefined) f.settle(value);
      // Pushed, but dropped here since: asked again, this time for the bytes.
      else writeFrame(this.socket, { fetch: h.value, id: h.id, again: true });
    }
  }

  send(
    jobId: string,
    attempt: number,
    data: Float64Array,
    facts: RunFacts,
    timeoutMs: number,
  ): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const id = `${jobId}#${attempt}`;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`no acknowledgement within ${timeoutMs} ms`)), timeoutMs);
      const done = (err?: Error) => {
        clearTimeout(timer);
        this.acks.delete(id);
        this.failed.delete(done);
        if (err === undefined) resolve();
        else reject(err);
      };
      this.acks.set(id, () => done());
      this.failed.add(done);
      writeFrame(this.socket, { ...facts, jobId, attempt, bytes: data.byteLength }, [
        new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      ]);
    });
  }

  fetch(name: string, timeoutMs: number): Promise<Buffer | null> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const pushed = this.pushed.get(name);
    if (pushed !== undefined) return Promise.resolve(pushed);
    const id = this.nextFetch++;
    return new Promise<Buffer | null>((resolve, reject) => {
      const timer = setTimeout(
        () => settle(new Error(`no answer for ${name} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const settle = (value: Buffer | null | Error) => {
        clearTimeout(timer);
        this.fetches.delete(id);
        this.failed.delete(settle);
        if (value instanceof Error) reject(value);
        else resolve(value);
      };
      this.fetches.set(id, { target: undefined, settle });
      this.failed.add(settle);
      writeFrame(this.socket, { fetch: name, id });
    });
  }

  fail(err: Error): void {
    this.failure ??= err;
    for (const reject of [...this.failed]) reject(err);
  }

  close(): void {
    this.socket.destroy();
  }
}
