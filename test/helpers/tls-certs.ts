/**
 * A throwaway certificate authority, with a server certificate for 127.0.0.1 and a client
 * certificate, made with the `openssl` command for the TLS cluster tests. Without openssl the
 * tests fail with a message that says how to install it, rather than skip.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** PEM files written by {@link makeCertificates}. */
export interface TestCertificates {
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

const OPENSSL = ['/usr/bin/openssl', '/usr/local/bin/openssl'].find((p) => existsSync(p));

function openssl(dir: string, args: readonly string[]): void {
  if (OPENSSL === undefined) {
    throw new Error('openssl is not installed: `apt-get install openssl` (.ci/run does this)');
  }
  execFileSync(OPENSSL, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * Writes `ca.crt`, `redis.crt`/`redis.key` (valid for IP 127.0.0.1 and localhost) and
 * `client.crt`/`client.key` into `dir`, all signed by a fresh CA valid for one day.
 */
export function makeCertificates(dir: string): TestCertificates {
  const days = ['-days', '1'];
  openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    ...days,
    '-subj',
    '/CN=distml test CA',
  ]);
  const sign = (name: string, subject: string, extensions: string) => {
    openssl(dir, [
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      subject,
    ]);
    openssl(dir, [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      ...days,
      '-extfile',
      extensions,
    ]);
  };
  // Node checks the server's name against subjectAltName, never the CN.
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  sign('redis', '/CN=127.0.0.1', 'server.ext');
  sign('client', '/CN=distml worker', 'client.ext');
  return {
    caCert: join(dir, 'ca.crt'),
    serverCert: join(dir, 'redis.crt'),
    serverKey: join(dir, 'redis.key'),
    clientCert: join(dir, 'client.crt'),
    clientKey: join(dir, 'client.key'),
  };
}
