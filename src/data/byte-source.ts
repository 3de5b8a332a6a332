/**
 * Byte ranges of a data file that many machines can read: a path on shared storage, or an
 * http(s) URL served with `Range` support. Cluster workers read their own partitions through this,
 * so rows never pass through the driver.
 */
import { type FileHandle, open, stat } from 'node:fs/promises';
import { cannotRead, DistmlError } from '../errors.ts';

/** Random access to the bytes of one file. */
export interface ByteSource {
  /** The path or URL, for messages (a URL without its user name and password). */
  readonly location: string;
  /** The file's size in bytes. */
  size(): Promise<number>;
  /**
   * What changes when the file is rewritten, even at the same size: a file's modification time
   * (nanoseconds where the file system keeps them), a URL's ETag or else its Last-Modified; empty
   * when a server sends neither. Read once per source, with the size.
   */
  version(): Promise<string>;
  /** Bytes [start, end), clamped to the file's end. */
  read(start: number, end: number): Promise<Buffer>;
  /**
   * Bytes [start, end) read in order into buffers the caller provides: what a parser of hundreds
   * of megabytes uses, so that it reuses one buffer instead of holding them all at once (memory
   * touched for the first time is slow to write). A URL is one request, its body read as it comes.
   */
  stream(start: number, end: number): ByteStream;
}

/** Sequential reads of a byte range, from {@link ByteSource.stream}. */
export interface ByteStream {
  /**
   * Writes the next bytes of the range into `target[at, at + length)`.
   * @returns how many it wrote: 0 once the range is done, else at least 1
   */
  readInto(target: Buffer, at: number, length: number): Promise<number>;
  /** Lets go of the file or the connection; safe to call twice, and before the range is done. */
  close(): Promise<void>;
}

/** Whether `location` is an http(s) URL rather than a path. */
export function isUrl(location: string): boolean {
  return /^https?:\/\//i.test(location);
}

/** A {@link ByteSource} for a path or an http(s) URL. */
export function openByteSource(location: string): ByteSource {
  return isUrl(location) ? new HttpSource(location) : new FileSource(location);
}

/** A {@link ByteSource} over bytes in memory (tests, small inputs). */
export function memorySource(bytes: Buffer, location = '<memory>'): ByteSource {
  return {
    location,
    size: async () => bytes.length,
    version: async () => '',
    read: async (start, end) => bytes.subarray(start, Math.min(end, bytes.length)),
    stream: (start, end) => {
      let next = start;
      const stop = Math.min(end, bytes.length);
      return {
        readInto: async (target, at, length) => {
          const n = bytes.copy(target, at, next, Math.min(stop, next + length));
          next += n;
          return n;
        },
        close: async () => {},
      };
    },
  };
}

class FileSource implements ByteSource {
  private known: { size: number; version: string } | undefined;
  constructor(readonly location: string) {}

  async size(): Promise<number> {
    return (await this.stat()).size;
  }

  async version(): Promise<string> {
    return (await this.stat()).version;
  }

  private async stat(): Promise<{ size: number; version: string }> {
    if (this.known !== undefined) return this.known;
    const info = await stat(this.location, { bigint: true }).catch((err: unknown) => {
      throw cannotRead(this.location, err);
    });
    if (info.isDirectory())
      throw new DistmlError('FILE_IO', `${this.location} is a directory, not a data file`);
    // The modification time, not the change time: copies of a file made with their times kept
    // (rsync -a, cp -p) on each machine read as the same version.
    this.known = { size: Number(info.size), version: `mtime ${info.mtimeNs}` };
    return this.known;
  }

  async read(start: number, end: number): Promise<Buffer> {
    const length = Math.max(0, Math.min(end, await this.size()) - start);
    const buf = Buffer.allocUnsafe(length);
    const stream = this.stream(start, end);
    try {
      // The stream stops at the same clamped end and throws if the file ends before it.
      for (let filled = 0; filled < length; ) filled += await stream.readInto(buf, filled, length - filled);
      return buf;
    } finally {
      await stream.close();
    }
  }

  stream(start: number, end: number): ByteStream {
    let next = start;
    let handle: FileHandle | undefined;
    return {
      readInto: async (target, at, length) => {
        const stop = Math.min(end, await this.size());
        if (next >= stop) return 0;
        handle ??= await open(this.location, 'r').catch((err: unknown) => {
          throw cannotRead(this.location, err);
        });
        const { bytesRead } = await handle.read(target, at, Math.min(length, stop - next), next);
        if (bytesRead === 0) {
          throw new DistmlError(
            'FILE_IO',
            `${this.location} ended at byte ${next} while reading bytes ${start}-${end}`,
            'the file shrank while it was being read: do not rewrite it during training',
          );
        }
        next += bytesRead;
        return bytesRead;
      },
      close: async () => {
        const open = handle;
        handle = undefined;
        await open?.close();
      },
    };
  }
}

class HttpSource implements ByteSource {
  private known: { size: number; version: string } | undefined;
  readonly location: string;
  private readonly url: string;
  private readonly auth: Record<string, string> = {};
  constructor(url: string) {
    this.location = redactedUrl(url);
    // fetch refuses URLs with credentials: they become a Basic Authorization header instead.
    const u = new URL(url);
    if (u.username !== '' || u.password !== '') {
      const pair = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
      this.auth = { authorization: `Basic ${Buffer.from(pair).toString('base64')}` };
    }
    this.url = this.location;
  }

  async size(): Promise<number> {
    return (await this.head()).size;
  }

  async version(): Promise<string> {
    return (await this.head()).version;
  }

  private async head(): Promise<{ size: number; version: string }> {
    if (this.known !== undefined) return this.known;
    const response = await this.fetch({ method: 'HEAD', headers: this.auth });
    if (!response.ok) throw this.failed(`HEAD answered ${response.status} ${response.statusText}`);
    const length = Number(response.headers.get('content-length'));
    if (!Number.isSafeInteger(length) || length < 0) {
      throw this.failed(
        'HEAD gave no Content-Length',
        'the server must state the file size to split it into byte ranges',
      );
    }
    const etag = response.headers.get('etag');
    const modified = response.headers.get('last-modified');
    const version = etag !== null ? `etag ${etag}` : modified !== null ? `last-modified ${modified}` : '';
    this.known = { size: length, version };
    return this.known;
  }

  async read(start: number, end: number): Promise<Buffer> {
    const last = Math.min(end, await this.size()) - 1;
    if (last < start) return Buffer.alloc(0);
    const response = await this.rangeRequest(start, last);
    const bytes = Buffer.from(await response.arrayBuffer());
    if (bytes.length !== last - start + 1) throw this.shortAnswer(start, last, bytes.length);
    return bytes;
  }

  stream(start: number, end: number): ByteStream {
    let body: ReadableStreamDefaultReader<Uint8Array> | undefined;
    let last = -1;
    let received = 0;
    // What the last network chunk held beyond what the caller had room for.
    let pending: Uint8Array | undefined;
    return {
      readInto: async (target, at, length) => {
        if (body === undefined) {
          last = Math.min(end, await this.size()) - 1;
          if (last < start) return 0;
          const response = await this.rangeRequest(start, last);
          if (response.body === null) throw this.shortAnswer(start, last, 0);
          body = response.body.getReader();
        }
        while (pending === undefined || pending.length === 0) {
          const { done, value } = await body.read();
          if (done) {
            if (received !== last - start + 1) throw this.shortAnswer(start, last, received);
            return 0;
          }
          received += value.length;
          if (received > last - start + 1) throw this.shortAnswer(start, last, received);
          pending = value;
        }
        const n = Math.min(length, pending.length);
        target.set(pending.subarray(0, n), at);
        pending = pending.subarray(n);
        return n;
      },
      close: async () => {
        const open = body;
        body = undefined;
        await open?.cancel();
      },
    };
  }

  /** A GET of bytes [start, last], refused unless the server answers with exactly that range. */
  private async rangeRequest(start: number, last: number): Promise<Response> {
    const response = await this.fetch({ headers: { ...this.auth, Range: `bytes=${start}-${last}` } });
    if (response.status !== 206) {
      await response.body?.cancel();
      throw this.failed(
        `a request for bytes ${start}-${last} answered ${response.status} ${response.statusText}, not 206 Partial Content`,
        'the server does not support Range requests: serve the file from one that does (nginx, S3, Apache), or put it on shared storage',
      );
    }
    return response;
  }

  /** An answer of other than `last - start + 1` bytes. */
  private shortAnswer(start: number, last: number, got: number): DistmlError {
    return this.failed(`a request for bytes ${start}-${last} returned ${got} bytes`);
  }

  private async fetch(init: RequestInit): Promise<Response> {
    try {
      return await fetch(this.url, { ...init, redirect: 'follow' });
    } catch (err) {
      throw this.failed((err as Error).message, 'check the URL and that the server is reachable from here');
    }
  }

  private failed(why: string, hint?: string): DistmlError {
    return new DistmlError('FILE_IO', `cannot read ${this.location}: ${why}`, hint);
  }
}

/** `url` without its user name and password, for messages. */
export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '' || u.username !== '') {
      u.username = '';
      u.password = '';
    }
    return u.toString();
  } catch {
    return url;
  }
}
