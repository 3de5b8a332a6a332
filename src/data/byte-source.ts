/**
 * Byte ranges of a data file that many machines can read: a path on shared storage, or an
 * http(s) URL served with `Range` support. Cluster workers read their own partitions through this,
 * so rows never pass through the driver.
 */
import { open, stat } from 'node:fs/promises';
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
    const handle = await open(this.location, 'r').catch((err: unknown) => {
      throw cannotRead(this.location, err);
    });
    try {
      let filled = 0;
      while (filled < length) {
        const { bytesRead } = await handle.read(buf, filled, length - filled, start + filled);
        if (bytesRead === 0) {
          throw new DistmlError(
            'FILE_IO',
            `${this.location} ended at byte ${start + filled} while reading bytes ${start}-${end}`,
            'the file shrank while it was being read: do not rewrite it during training',
          );
        }
        filled += bytesRead;
      }
      return buf;
    } finally {
      await handle.close();
    }
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
    const response = await this.fetch({ headers: { ...this.auth, Range: `bytes=${start}-${last}` } });
    if (response.status !== 206) {
      await response.body?.cancel();
      throw this.failed(
        `a request for bytes ${start}-${last} answered ${response.status} ${response.statusText}, not 206 Partial Content`,
        'the server does not support Range requests: serve the file from one that does (nginx, S3, Apache), or put it on shared storage',
      );
    }
    const bytes = Buffer.from(await response.arrayBuffer());
    if (bytes.length !== last - start + 1) {
      throw this.failed(`a request for bytes ${start}-${last} returned ${bytes.length} bytes`);
    }
    return bytes;
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
