/**
 * A real redis-server (Debian's package) on a free loopback port, for the cluster tests, and
 * `distml worker` processes pointed at it. `.ci/run` installs redis-server; without it these tests
 * fail with a message that says so, rather than skip.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { dataset, ROOT } from './cli.ts';

/** A running redis-server. */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  stop(): Promise<void>;
  /** SIGKILL: a crash, with no chance to write anything more. */
  crash(): Promise<void>;
}

const REDIS_SERVER = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => existsSync(p));

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Starts redis-server on a free loopback port with no persistence, plus `extra` arguments. */
export async function startRedis(extra: readonly string[] = [], fixedPort?: number): Promise<RedisServer> {
  if (REDIS_SERVER === undefined) {
    throw new Error('redis-server is not installed: `apt-get install redis-server` (.ci/run does this)');
  }
  const port = fixedPort ?? (await freePort());
  const child = spawn(
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
      ...extra,
    ],
    { stdio: 'ignore' },
  );
  await waitForPort(port, 5000);
  return served(child, port);
}

/**
 * Starts `redis-server CONFIG` (a redis.conf file) whose TLS or plaintext port is `port`, and waits
 * until the port accepts connections. The URL is `rediss://` when `tls` is set.
 */
export async function startRedisFromConfig(config: string, port: number, tls = false): Promise<RedisServer> {
  if (REDIS_SERVER === undefined) {
    throw new Error('redis-server is not installed: `apt-get install redis-server` (.ci/run does this)');
  }
  const child = spawn(REDIS_SERVER, [config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  for (const stream of [child.stdout, child.stderr])
    stream.setEncoding('utf8').on('data', (d: string) => {
      output += d;
    });
  // A config Redis refuses makes it exit at once: say why instead of waiting for the port.
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`redis-server ${config} exited (${code}): ${output}`))),
  );
  exited.catch(() => {});
  await Promise.race([waitForPort(port, 5000), exited]);
  const server = served(child, port);
  return tls ? { ...server, url: `rediss://127.0.0.1:${port}` } : server;
}

function served(child: ChildProcess, port: number): RedisServer {
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop: () => stopChild(child),
    crash: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await done;
    },
  };
}

async function waitForPort(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = new Socket();
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
      s.connect(port, '127.0.0.1');
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${port} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A `distml worker` process and what it printed. */
export interface WorkerProcess {
  readonly child: ChildProcess;
  log(): string;
  /** Resolves with the exit code (or the signal's name) when the process ends. */
  readonly exited: Promise<number | string>;
}

/**
 * Starts `distml worker --cluster URL ARGS…` and waits until it has joined. Without `--threads`
 * in ARGS it runs one thread (not one per core): the tests count tasks and placements exactly, so
 * they must not depend on this machine's cores.
 */
export async function startWorker(
  url: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<WorkerProcess> {
  const threads = args.includes('--threads') ? [] : ['--threads', '1'];
  const child = spawn(
    process.execPath,
    [`${ROOT}bin/distml.js`, 'worker', '--cluster', url, ...threads, ...args],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, NO_COLOR: '1', ...env },
    },
  );
  let text = '';
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  await new Promise<void>((resolve, reject) => {
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      text += d;
      if (text.includes(' joined ')) resolve();
    });
    exited.then((code) => reject(new Error(`worker exited (${code}) before joining: ${text}`)));
  });
  return { child, log: () => text, exited };
}

/** SIGTERM, then SIGKILL after 5 s. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await done;
  clearTimeout(timer);
}

/**
 * The partitions a worker's log says it loaded from Redis or read from their source, in
 * ascending order; a partition loaded twice appears twice. Pass the part of the log written
 * during one fit of one placement.
 */
export function partitionsLoaded(log: string): number[] {
  return [...log.matchAll(/(?:loaded|read) partition (\d+) of p\d+ from/g)]
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/**
 * `distml train` of a logistic regression on breast_cancer in 6 partitions with the tail split,
 * before the options a test adds: the fit most cluster tests compare with the serial engine's.
 */
export const LOGISTIC_ON_6 = [
  'train',
  dataset('breast_cancer.csv'),
  '--target',
  'label',
  '--model',
  'logistic-regression',
  '--split',
  'tail',
  '--partitions',
  '6',
] as const;

/** The redis-server, scratch folder and workers of one cluster test file. */
export interface ClusterFixture {
  /** The file's redis-server, on a free loopback port (started before its tests). */
  readonly redis: RedisServer;
  /** A scratch folder for the file's reports, models and data (removed after its tests). */
  readonly dir: string;
  /** The workers its tests start: each is stopped after the file's tests (SIGTERM, then SIGKILL). */
  readonly workers: WorkerProcess[];
  /**
   * Registers a `before` hook of the file that runs once the redis-server and the folder exist.
   * Use it rather than `before`: node:test runs a file's `before` hooks side by side.
   */
  setup(hook: () => Promise<void>): void;
}

/**
 * Registers the hooks every cluster test file needs: a redis-server and a scratch folder before
 * its tests, the workers stopped and both removed after them.
 */
export function useCluster(prefix: string, redisArgs: readonly string[] = []): ClusterFixture {
  let redis: RedisServer | undefined;
  let dir: string | undefined;
  const workers: WorkerProcess[] = [];
  let started!: () => void;
  let failed!: (err: unknown) => void;
  const ready = new Promise<void>((resolve, reject) => {
    started = resolve;
    failed = reject;
  });
  ready.catch(() => {});
  before(async () => {
    try {
      redis = await startRedis(redisArgs);
      dir = await mkdtemp(join(tmpdir(), prefix));
      started();
    } catch (err) {
      failed(err);
      throw err;
    }
  });
  after(async () => {
    await Promise.all(workers.map((w) => stopChild(w.child)));
    await redis?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });
  const must = <T>(value: T | undefined): T => {
    if (value === undefined)
      throw new Error('the cluster fixture starts in before(): use it inside tests and setup()');
    return value;
  };
  return {
    get redis() {
      return must(redis);
    },
    get dir() {
      return must(dir);
    },
    workers,
    setup(hook) {
      before(async () => {
        await ready;
        await hook();
      });
    },
  };
}
