/**
 * Connecting to the cluster's Redis: the URL a user gives (`redis://` or `rediss://` for TLS, with
 * an optional ACL user and password), the TLS files, and redaction so that a password never reaches
 * a log, an error or a report. Only `engine/redis/` imports ioredis.
 */
import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';
import { UsageError } from '../../errors.ts';

/** How to reach the cluster's Redis. */
export interface ClusterConnection {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…` for TLS. */
  readonly url: string;
  /** PEM file of the CA that signed the server's certificate (TLS only). */
  readonly tlsCaFile?: string;
  /** PEM files of a client certificate and its key, for servers that require one (TLS only). */
  readonly tlsCertFile?: string;
  readonly tlsKeyFile?: string;
}

/** `url` with any password replaced by `***`: the only form of the URL that may be printed. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable cluster URL>';
  }
}

/**
 * ioredis options for `c`. `maxRetriesPerRequest: null` is what BullMQ requires of blocking
 * connections; reconnects back off up to 2 s and never stop (the engine bounds waits itself).
 * @throws UsageError naming the bad URL (redacted) or TLS file
 */
export function redisOptions(
  c: ClusterConnection,
): RedisOptions & { retryStrategy: (times: number) => number } {
  let u: URL;
  try {
    u = new URL(c.url);
  } catch {
    throw new UsageError(
      `--cluster '${redactUrl(c.url)}' is not a URL`,
      'use redis://HOST:PORT or rediss://HOST:PORT',
    );
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new UsageError(
      `--cluster '${redactUrl(c.url)}': unsupported scheme '${u.protocol}'`,
      'use redis://HOST:PORT, or rediss://HOST:PORT for TLS',
    );
  }
  const tls = u.protocol === 'rediss:';
  if (!tls && (c.tlsCaFile || c.tlsCertFile || c.tlsKeyFile)) {
    throw new UsageError('TLS files were given for a redis:// URL', 'use rediss:// to connect with TLS');
  }
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) {
    throw new UsageError(
      `--cluster '${redactUrl(c.url)}': database '${u.pathname.slice(1)}' is not a number`,
    );
  }
  const options: RedisOptions & { retryStrategy: (times: number) => number } = {
    host: u.hostname,
    port: u.port === '' ? 6379 : Number(u.port),
    db,
    maxRetriesPerRequest: null,
    retryStrategy: (times: number) => Math.min(50 * 2 ** times, 2000),
    lazyConnect: false,
  };
  if (u.username !== '') options.username = decodeURIComponent(u.username);
  if (u.password !== '') options.password = decodeURIComponent(u.password);
  if (tls) {
    options.tls = {
      ...(c.tlsCaFile ? { ca: readPem(c.tlsCaFile, '--tls-ca') } : {}),
      ...(c.tlsCertFile ? { cert: readPem(c.tlsCertFile, '--tls-cert') } : {}),
      ...(c.tlsKeyFile ? { key: readPem(c.tlsKeyFile, '--tls-key') } : {}),
    };
  }
  return options;
}

function readPem(path: string, option: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UsageError(`${option} ${path}: ${(err as Error).message}`, 'give a readable PEM file');
  }
}

/** The last connection error of each client made by {@link connect}, said for a user. */
const lastErrors = new WeakMap<Redis, string>();

/** A new connection to the cluster's Redis. */
export function connect(c: ClusterConnection): Redis {
  const redis = new Redis(redisOptions(c));
  const tls = c.url.startsWith('rediss:');
  // Connection errors also reject the commands that hit them, which is where they are reported;
  // an unhandled 'error' event would only print the same news as a stack trace. The last one is
  // kept: while ioredis reconnects, it is the only clue to why Redis does not answer.
  redis.on('error', (err: NodeJS.ErrnoException) => {
    // Over TLS a reset follows the handshake's own alert, which says more: keep that one.
    if (err.code === 'ECONNRESET' && tls && lastErrors.has(redis)) return;
    lastErrors.set(redis, explain(err, tls));
  });
  return redis;
}

/** Why `redis` (made by {@link connect}) could not connect lately, or undefined. */
export function lastConnectionError(redis: Redis): string | undefined {
  return lastErrors.get(redis);
}

function explain(err: NodeJS.ErrnoException, tls: boolean): string {
  if (err.code === 'ECONNRESET' && !tls) {
    return 'the server reset the connection; a TLS-only Redis does this to plaintext clients: use rediss:// and --tls-ca';
  }
  if (err.code === 'ECONNRESET' && tls) {
    // Under load the reset can reach the client before the handshake's alert that says why.
    return 'the server reset the TLS connection: if it requires a client certificate, give --tls-cert and --tls-key';
  }
  if (/certificate required/i.test(err.message)) {
    return 'the server requires a client certificate: give --tls-cert and --tls-key';
  }
  const first = err.message.split('\n')[0]!.replace(/^[0-9A-F]+:error:[0-9A-F]+:/, '');
  return err.code === undefined ? first : `${err.code}: ${first}`;
}
