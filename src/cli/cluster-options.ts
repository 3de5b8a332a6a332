/**
 * The options every command that talks to a cluster shares (`train --cluster`, `worker`): the Redis
 * URL, TLS files and the cluster secret. The secret comes from a file or the DISTML_CLUSTER_SECRET
 * environment variable, never from the command line, where `ps` would show it.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { ClusterConnection } from '../engine/redis/cluster-connection.ts';
import { UsageError } from '../errors.ts';

/** The parsed cluster options. */
export interface ClusterCliOptions {
  cluster?: string;
  namespace: string;
  secretFile?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
}

/** Adds the namespace, TLS and secret options to `command`. */
export function addClusterOptions(command: Command): Command {
  return command
    .option('--namespace <ns>', 'key prefix in Redis shared by the driver and its workers', 'distml')
    .option(
      '--secret-file <file>',
      'file holding the cluster secret that signs task messages (or set DISTML_CLUSTER_SECRET)',
    )
    .option('--tls-ca <file>', 'PEM file of the CA that signed the Redis server certificate (rediss:// URLs)')
    .option('--tls-cert <file>', 'PEM client certificate, for Redis servers that require one')
    .option('--tls-key <file>', 'PEM key of --tls-cert');
}

/** The connection the options describe. */
export function clusterConnection(url: string, o: ClusterCliOptions): ClusterConnection {
  return {
    url,
    ...(o.tlsCa === undefined ? {} : { tlsCaFile: o.tlsCa }),
    ...(o.tlsCert === undefined ? {} : { tlsCertFile: o.tlsCert }),
    ...(o.tlsKey === undefined ? {} : { tlsKeyFile: o.tlsKey }),
  };
}

/**
 * The cluster secret, or undefined when none is configured.
 * @throws UsageError when the file cannot be read or the secret is shorter than 16 bytes
 */
export function clusterSecret(o: ClusterCliOptions): Buffer | undefined {
  let text: string | undefined;
  let from = 'DISTML_CLUSTER_SECRET';
  if (o.secretFile !== undefined) {
    from = `--secret-file ${o.secretFile}`;
    try {
      text = readFileSync(o.secretFile, 'utf8');
    } catch (err) {
      throw new UsageError(
        `${from}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`,
        'give a readable file',
      );
    }
  } else {
    text = process.env.DISTML_CLUSTER_SECRET;
  }
  if (text === undefined) return undefined;
  const secret = Buffer.from(text.trim(), 'utf8');
  if (secret.length < 16) {
    throw new UsageError(
      `the cluster secret from ${from} is ${secret.length} bytes`,
      'use at least 16 random bytes, e.g. `openssl rand -hex 32`',
    );
  }
  return secret;
}
