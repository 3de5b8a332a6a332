/**
 * A small static file server on 127.0.0.1 for the tests of data read from URLs: it answers HEAD
 * with Content-Length and GET with `Range: bytes=a-b` as 206 Partial Content, like nginx or S3.
 * Paths under /no-range/ ignore Range and send the whole file with 200, like a server without
 * range support. Paths under /private/ need Basic authorization `user:secret`. Every answer
 * carries an ETag made of the file's modification time and size, as nginx makes it.
 */
import { readFile, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';

/** A running server. */
export interface RangeServer {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** Range requests served so far. */
  ranges(): number;
  stop(): Promise<void>;
}

/** Serves the files of `root`. */
export async function startRangeServer(root: string): Promise<RangeServer> {
  let ranges = 0;
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const noRange = path.startsWith('/no-range/');
    const locked = path.startsWith('/private/');
    if (locked && req.headers.authorization !== `Basic ${Buffer.from('user:secret').toString('base64')}`) {
      res.writeHead(401);
      res.end();
      return;
    }
    const file = join(root, noRange || locked ? path.slice(path.indexOf('/', 1)) : path);
    Promise.all([readFile(file), stat(file)])
      .then(([bytes, info]) => {
        const etag = `"${Math.floor(info.mtimeMs).toString(16)}-${bytes.length.toString(16)}"`;
        const range = noRange ? null : /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
        if (range === null) {
          res.writeHead(200, { 'content-length': bytes.length, etag });
          res.end(req.method === 'HEAD' ? undefined : bytes);
          return;
        }
        ranges++;
        const start = Number(range[1]);
        const end = Math.min(Number(range[2]), bytes.length - 1);
        res.writeHead(206, {
          etag,
          'content-length': end - start + 1,
          'content-range': `bytes ${start}-${end}/${bytes.length}`,
        });
        res.end(bytes.subarray(start, end + 1));
      })
      .catch(() => {
        res.writeHead(404);
        res.end();
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    ranges: () => ranges,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
