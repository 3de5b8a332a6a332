/**
 * A private cluster for the cluster benchmark: redis-server on a free loopback port (no
 * persistence, noeviction) and `distml worker` processes of the built CLI, one thread each. Their
 * output goes to files, not pipes, so a parent blocked in a synchronous `distml train` never stalls
 * them on a full pipe.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { join } from 'node:path';
import { CLI } from './datasets.ts';

/** A started process and where its output goes. */
interface Started {
  readonly child: ChildProcess;
  readonly log: string;
}

/** A running redis-server and the workers started against it. */
export interface BenchCluster {
  readonly url: string;
  /** Starts `count` workers of `threads` threads (default 1) in `namespace`; waits until each has joined. */
  startWorkers(namespace: string, count: number, threads?: number): Promise<void>;
  /** SIGTERM to every worker, then waits for them to leave. */
  stopWorkers(): Promise<void>;
  /** Stops the workers and redis-server. */
  close(): Promise<void>;
}

const REDIS_SERVER = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => existsSync(p));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function started(command: string, args: readonly string[], log: string): Started {
  const fd = openSync(log, 'a');
  const child = spawn(command, args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  return { child, log };
}

async function until(what: string, ready: () => Promise<boolean> | boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`${what} within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = new Socket();
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.connect(port, '127.0.0.1');
  });

async function stop(p: Started): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const done = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
  await done;
  clearTimeout(timer);
}

/** Starts redis-server, logging into `dir`. @throws Error when redis-server is not installed */
export async function startBenchCluster(dir: string): Promise<BenchCluster> {
  if (REDIS_SERVER === undefined)
    throw new Error('redis-server is not installed (apt-get install redis-server)');
  const port = await freePort();
  const redis = started(
    REDIS_SERVER,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--maxmemory-policy',
      'noeviction',
    ],
    join(dir, 'redis.log'),
  );
  await until('redis-server did not listen', () => accepts(port), 5000);
  const url = `redis://127.0.0.1:${port}`;
  let workers: Started[] = [];
  const cluster: BenchCluster = {
    url,
    async startWorkers(namespace, count, threads = 1) {
      for (let i = 1; i <= count; i++) {
        const w = started(
          process.execPath,
          [
            CLI,
            'worker',
            '--cluster',
            url,
            '--namespace',
            namespace,
            '--name',
            `${namespace}-${i}`,
            '--threads',
            String(threads),
          ],
          join(dir, `${namespace}-${i}.log`),
        );
        workers.push(w);
        await until(
          `worker ${namespace}-${i} did not join`,
          () => {
            if (w.child.exitCode !== null) throw new Error(`worker exited: ${readFileSync(w.log, 'utf8')}`);
            return readFileSync(w.log, 'utf8').includes(' joined ');
          },
          30_000,
        );
      }
    },
    async stopWorkers() {
      await Promise.all(workers.map(stop));
      workers = [];
    },
    async close() {
      await cluster.stopWorkers();
      await stop(redis);
    },
  };
  return cluster;
}
