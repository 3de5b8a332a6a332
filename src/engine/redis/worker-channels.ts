/**
 * A worker's end of the driver's task channel (task-channel.ts): one authenticated connection per
 * driver, over which the worker fetches the values the driver serves (or finds those it pushed)
 * and sends its task results. The driver must prove the key too before anything it sends is used.
 */
import { randomBytes } from 'node:crypto';
import { createConnection, type Socket } from 'node:net';
import { sharedBytes } from '../local/protocol.ts';
import {
  driverProof,
  FrameReader,
  type Header,
  sameProof,
  workerProof,
  writeFrame,
} from './channel-frames.ts';
import type { RunFacts } from './task-channel.ts';
import { MAX_VALUE_BYTES } from './tensor-codec.ts';

/**
 * A worker's end: one authenticated connection per driver, over which it fetches the driver's
 * values and sends its results.
 */
export class WorkerChannels {
  private readonly connections = new Map<string, Promise<Connection>>();

  /**
   * @param worker - this worker's id, named in its greeting so the driver can push to it
   * @param allocate - the memory a value of so many bytes arrives in: shared, at offset 0, the
   *   caller's to own once fetched
   */
  constructor(
    private readonly worker: string,
    private readonly allocate: (bytes: number) => Buffer = sharedBytes,
  ) {}

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
      connection = Connection.open(address, key, this.worker, timeoutMs, this.allocate);
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

  private constructor(
    private readonly socket: Socket,
    private readonly allocate: (bytes: number) => Buffer,
  ) {}

  static open(
    address: string,
    key: Buffer,
    worker: string,
    timeoutMs: number,
    allocate: (bytes: number) => Buffer,
  ): Promise<Connection> {
    const colon = address.lastIndexOf(':');
    const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
    const port = Number(address.slice(colon + 1));
    return new Promise<Connection>((resolve, reject) => {
      const nonce = randomBytes(16);
      let trusted = false;
      // The reader exists before the socket: the socket reads into the memory it gives (the
      // payload's own buffer, for the megabytes of values).
      const reader = new FrameReader(
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
      const socket = createConnection({ host, port, onread: reader.onread() });
      socket.setNoDelay(true);
      const c = new Connection(socket, allocate);
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
    // read it in place (kernel-threads.ts); reused memory when the worker has some of this size.
    const target = this.allocate(bytes);
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

  /**
   * A pushed value, handed over: the fetcher owns its memory from now on (it may reuse it once
   * done), so the connection forgets it; asked for again, it comes from the driver again.
   */
  private claimPushed(name: string): Buffer | undefined {
    const value = this.pushed.get(name);
    this.pushed.delete(name);
    return value;
  }

  /** The driver answered fetch `h.id`: the value, "missing", or "sent" (pushed before). */
  private answered(h: Header): void {
    const f = this.fetches.get(h.id as number);
    if (f === undefined) return;
    if (h.missing === true) f.settle(null);
    else if (h.sent !== true) f.settle(f.target ?? null);
    else {
      const value = this.claimPushed(h.value as string);
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
    const pushed = this.claimPushed(name);
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
