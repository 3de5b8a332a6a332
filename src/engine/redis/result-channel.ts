/**
 * Task results straight from a worker to the driver over TCP, instead of through Redis. The
 * cluster benchmark showed Redis as the bottleneck of a pass with large results: each 8 MB result
 * was written to Redis by its worker and read back by the driver, two copies through one
 * single-threaded server. Over this channel a result crosses the network once, into a Float64Array
 * the driver allocated for it.
 *
 * Redis stays the coordination layer: the task still completes through BullMQ, and the driver only
 * uses the bytes of the attempt BullMQ reports as completed (a stale attempt's bytes are
 * discarded), so the fencing of results is unchanged. The worker sends before it completes the job
 * and waits for the driver's acknowledgement, so bytes are always there when the completion is.
 *
 * Authentication: the driver greets each connection with a random nonce; the worker answers with
 * HMAC-SHA256(key, nonce), where the key is derived from the cluster secret when there is one, or
 * is a per-run token carried in the task messages otherwise (the same trust as Redis itself).
 * The channel is plain TCP: with `rediss://` the engine does not open it, and results go through
 * Redis's TLS connection. Frames are `u32 header length | JSON header | payload`, sizes checked
 * against what the driver expects before any payload is read.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createConnection, createServer, type Server, type Socket } from 'node:net';

/** Largest frame header accepted; headers are a few dozen bytes. */
const MAX_HEADER_BYTES = 4096;

/** The key both ends prove knowledge of: derived from the cluster secret, or the run's token. */
export function channelKey(run: string, secret: Buffer | undefined, token: string | undefined): Buffer {
  if (secret !== undefined) return createHmac('sha256', secret).update(`result-channel:${run}`).digest();
  if (token === undefined) throw new Error('a result channel needs the cluster secret or a run token');
  return Buffer.from(token, 'hex');
}

type Header = Readonly<Record<string, unknown>>;

/** Writes one frame: header length, header, optional payload. */
function writeFrame(socket: Socket, header: Header, payload?: Uint8Array): boolean {
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(json.byteLength);
  socket.write(length);
  if (payload === undefined) return socket.write(json);
  socket.write(json);
  return socket.write(payload);
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

/** A result the driver is waiting for: its size, and the bytes of each attempt that arrived. */
interface Expected {
  readonly bytes: number;
  readonly attempts: Map<number, Float64Array>;
}

/** The driver's end: a TCP server that receives the results of the tasks it expects. */
export class ResultServer {
  private readonly expected = new Map<string, Expected>();
  private readonly sockets = new Set<Socket>();
  /** Result frames for tasks no longer expected (stale attempts, finished passes). */
  discarded = 0;
  /** Connections refused for a bad greeting or frame. */
  refused = 0;

  private constructor(
    private readonly server: Server,
    readonly host: string,
    readonly port: number,
  ) {}

  /** Listens on `host`, on a free port. */
  static async open(host: string, key: Buffer, log: (line: string) => void): Promise<ResultServer> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve());
    });
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const channel = new ResultServer(server, host, port);
    server.on('connection', (socket) => channel.accept(socket, key, log));
    return channel;
  }

  /** Where workers send results: `host:port`. */
  get address(): string {
    return `${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
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
    const refuse = (why: string) => {
      this.refused++;
      log(`result channel: refused a connection from ${socket.remoteAddress}: ${why}`);
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
        return new Uint8Array(out.buffer);
      },
      (h, payload) => {
        if (!trusted) {
          const proof = Buffer.from(typeof h.proof === 'string' ? h.proof : '', 'hex');
          const expected = createHmac('sha256', key).update(nonce).digest();
          if (proof.length !== expected.length || !timingSafeEqual(proof, expected)) {
            refuse('its greeting does not prove the cluster key');
            return;
          }
          trusted = true;
          writeFrame(socket, { welcome: true });
          return;
        }
        if (payload === undefined) this.discarded++;
        writeFrame(socket, { ack: h.jobId, attempt: h.attempt });
      },
      refuse,
    );
    writeFrame(socket, { nonce: nonce.toString('hex') });
  }
}

/** A worker's end: one authenticated connection per driver, results sent and acknowledged. */
export class ResultSender {
  private readonly connections = new Map<string, Promise<Connection>>();

  /**
   * Sends `data` as the result of attempt `attempt` of `jobId` to the driver at `address`, and
   * resolves once the driver acknowledged it. Rejects when the driver cannot be reached, refuses
   * the greeting, or does not answer within `timeoutMs`.
   */
  async send(
    address: string,
    key: Buffer,
    jobId: string,
    attempt: number,
    data: Float64Array,
    timeoutMs = 30_000,
  ): Promise<void> {
    const id = `${address}/${key.toString('hex').slice(0, 16)}`;
    let connection = this.connections.get(id);
    if (connection === undefined) {
      connection = Connection.open(address, key, timeoutMs);
      this.connections.set(id, connection);
      connection.catch(() => this.connections.delete(id));
    }
    const c = await connection;
    try {
      await c.send(jobId, attempt, data, timeoutMs);
    } catch (err) {
      this.connections.delete(id);
      c.close();
      throw err;
    }
  }

  close(): void {
    for (const c of this.connections.values()) void c.then((x) => x.close()).catch(() => {});
    this.connections.clear();
  }
}

class Connection {
  private readonly acks = new Map<string, () => void>();
  private failure: Error | undefined;
  private readonly failed = new Set<(err: Error) => void>();

  private constructor(private readonly socket: Socket) {}

  static open(address: string, key: Buffer, timeoutMs: number): Promise<Connection> {
    const colon = address.lastIndexOf(':');
    const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
    const port = Number(address.slice(colon + 1));
    return new Promise<Connection>((resolve, reject) => {
      const socket = createConnection({ host, port });
      socket.setNoDelay(true);
      const c = new Connection(socket);
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
      socket.on('close', () => fail(new Error(`the driver at ${address} closed the result channel`)));
      new FrameReader(
        socket,
        () => 0,
        () => undefined,
        (h) => {
          if (typeof h.nonce === 'string') {
            const proof = createHmac('sha256', key).update(Buffer.from(h.nonce, 'hex')).digest('hex');
            writeFrame(socket, { proof });
          } else if (h.welcome === true) {
            clearTimeout(timer);
            resolve(c);
          } else if (typeof h.ack === 'string') {
            c.acks.get(`${h.ack}#${String(h.attempt)}`)?.();
          }
        },
        (why) => fail(new Error(`the driver at ${address} sent ${why}`)),
      );
    });
  }

  send(jobId: string, attempt: number, data: Float64Array, timeoutMs: number): Promise<void> {
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
      writeFrame(
        this.socket,
        { jobId, attempt, bytes: data.byteLength },
        new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      );
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
