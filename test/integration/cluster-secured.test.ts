/**
 * The secured cluster of docs/cluster.md, as written there: redis-server runs the `redis.conf`
 * block of its "Secured cluster" section (TLS only with client certificates, AOF, noeviction, a
 * confined ACL user; only paths, port and password replaced), with certificates made by openssl.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { dataset, ROOT, runCli } from '../helpers/cli.ts';
import {
  freePort,
  type RedisServer,
  startRedisFromConfig,
  startWorker,
  stopChild,
  type WorkerProcess,
} from '../helpers/redis-server.ts';
import { makeCertificates, type TestCertificates } from '../helpers/tls-certs.ts';

const PASSWORD = 'acl-password-for-tests-5150';
const SECRET = 'cluster-secret-for-the-tls-test-0042';
let dir: string;
let certs: TestCertificates;
let redis: RedisServer;
let url: string;
const workers: WorkerProcess[] = [];
const TRAIN = ['train', dataset('breast_cancer.csv'), '--target', 'label', '--model', 'logistic-regression'];
const FIT = ['--split', 'tail', '--partitions', '4'];

/** docs/cluster.md's redis.conf block, made runnable here; fails when the documented lines change. */
async function documentedConfig(port: number): Promise<string> {
  const doc = await readFile(join(ROOT, 'docs/cluster.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Secured cluster'));
  const block = /```conf\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(block !== undefined, 'docs/cluster.md has no ```conf block under "## Secured cluster"');
  let conf = block;
  const replace = (from: string | RegExp, to: string) => {
    assert.match(conf, typeof from === 'string' ? new RegExp(from.replace(/[.*]/g, '\\$&')) : from);
    conf = conf.replace(from, to);
  };
  replace('bind 10.0.0.5', 'bind 127.0.0.1');
  replace(/^tls-port \d+$/m, `tls-port ${port}`);
  replace(/\/etc\/redis\/tls\/redis\.crt/, certs.serverCert);
  replace(/\/etc\/redis\/tls\/redis\.key/, certs.serverKey);
  replace(/\/etc\/redis\/tls\/ca\.crt/, certs.caCert);
  replace('>LONG-RANDOM-PASSWORD', `>${PASSWORD}`);
  // The test's own: AOF files in the temporary directory, no RDB snapshots.
  return `${conf}dir ${dir}\nsave ""\n`;
}

const tlsFiles = () => [
  '--tls-ca',
  certs.caCert,
  '--tls-cert',
  certs.clientCert,
  '--tls-key',
  certs.clientKey,
];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'distml-secured-'));
  certs = makeCertificates(dir);
  const port = await freePort();
  const config = join(dir, 'redis.conf');
  await writeFile(config, await documentedConfig(port));
  redis = await startRedisFromConfig(config, port, true);
  url = `rediss://distml:${PASSWORD}@127.0.0.1:${port}`;
});
after(async () => {
  await Promise.all(workers.map((w) => stopChild(w.child)));
  await redis?.stop();
  await rm(dir, { recursive: true, force: true });
});

test('a TLS-only Redis refuses plaintext clients and clients without a certificate, with a clear error', async () => {
  const started = Date.now();
  // Side by side: each waits out its --join-timeout.
  const [plain, anonymous] = await Promise.all([
    runCli([...TRAIN, '--cluster', `redis://127.0.0.1:${redis.port}`, '--join-timeout', '2']),
    // TLS, the right CA and password, but no client certificate: the handshake fails.
    runCli([...TRAIN, '--cluster', url, '--tls-ca', certs.caCert, '--join-timeout', '2']),
  ]);
  assert.equal(plain.code, 1);
  assert.match(
    plain.stderr,
    new RegExp(`cannot reach Redis at redis://127\\.0\\.0\\.1:${redis.port}/?: no answer within 2 s`),
  );
  assert.match(
    plain.stderr,
    /\(the server reset the connection; a TLS-only Redis does this to plaintext clients: use rediss:\/\/ and --tls-ca\)/,
  );
  assert.equal(anonymous.code, 1);
  assert.match(
    anonymous.stderr,
    // The handshake's alert says why; under load the reset that follows it can arrive first.
    /cannot reach Redis at rediss:\/\/distml:\*\*\*@127\.0\.0\.1:\d+\/?: no answer within 2 s \((the server requires a client certificate:|the server reset the TLS connection: if it requires a client certificate,) give --tls-cert and --tls-key\)/,
  );
  assert.ok(!anonymous.stderr.includes(PASSWORD), 'the password was printed');
  // Bounded by --join-timeout and process start, not by ioredis' endless reconnects.
  assert.ok(Date.now() - started < 30_000, `took ${Date.now() - started} ms`);
});

test('the documented ACL user reaches its namespace and nothing else', async () => {
  const { Redis } = await import('ioredis');
  const client = new Redis({
    host: '127.0.0.1',
    port: redis.port,
    username: 'distml',
    password: PASSWORD,
    tls: {
      ca: await readFile(certs.caCert),
      cert: await readFile(certs.clientCert),
      key: await readFile(certs.clientKey),
    },
    maxRetriesPerRequest: 1,
  });
  try {
    assert.equal(await client.set('distml:probe', '1'), 'OK');
    assert.equal(await client.del('distml:probe'), 1);
    await assert.rejects(client.set('other:key', '1'), /NOPERM/);
    await assert.rejects(client.flushall(), /NOPERM/);
    await assert.rejects(client.call('CONFIG', 'GET', 'dir'), /NOPERM/);
    await assert.rejects(client.call('KEYS', '*'), /NOPERM/);
  } finally {
    client.disconnect();
  }
  // The default user is off: a client with a certificate but no user cannot even ping.
  const anonymous = new Redis({
    host: '127.0.0.1',
    port: redis.port,
    tls: {
      ca: await readFile(certs.caCert),
      cert: await readFile(certs.clientCert),
      key: await readFile(certs.clientKey),
    },
    maxRetriesPerRequest: 1,
  });
  // The refused handshake is also emitted as an event; the rejected ping is what is checked.
  anonymous.on('error', () => {});
  try {
    await assert.rejects(anonymous.ping(), /NOAUTH/);
  } finally {
    anonymous.disconnect();
  }
});

test('driver and workers over rediss:// with client certificates, the ACL user and a secret train the serial model', async () => {
  const env = { DISTML_CLUSTER_SECRET: SECRET };
  for (const name of ['tls-a', 'tls-b'])
    workers.push(await startWorker(url, ['--name', name, ...tlsFiles()], env));
  const serialReport = join(dir, 'serial.json');
  const serial = await runCli([...TRAIN, ...FIT, '--workers', '0', '--report', serialReport]);
  assert.equal(serial.code, 0, serial.stderr);
  const clusterReport = join(dir, 'cluster.json');
  const cluster = await runCli([...TRAIN, ...FIT, ...(await securedCluster()), '--report', clusterReport]);
  assert.equal(cluster.code, 0, cluster.stderr);
  const a = JSON.parse(await readFile(serialReport, 'utf8'));
  const b = JSON.parse(await readFile(clusterReport, 'utf8'));
  assert.deepStrictEqual(b.metrics, a.metrics);
  assert.equal(b.engine.kind, 'redis');
  assert.equal(b.engine.workers, 2);
  assert.equal(b.engine.tasks, b.engine.passes * 4);
  // Over TLS nothing takes the plaintext task channel: every result came through Redis.
  assert.equal(b.engine.directResults, 0);
  assert.equal(b.engine.channelFetches, 0);
  assert.match(cluster.stderr, /engine: cluster rediss:\/\/distml:\*\*\*@127\.0\.0\.1:\d+\/?, 2 workers/);
  for (const text of [cluster.stderr, cluster.stdout, ...workers.map((w) => w.log())]) {
    assert.ok(!text.includes(PASSWORD) && !text.includes(SECRET), 'a password or secret was printed');
  }
});

/** The options of `train` on the TLS cluster, as the ACL user, with the cluster secret in a file. */
async function securedCluster(): Promise<string[]> {
  const secretFile = join(dir, 'secret');
  await writeFile(secretFile, SECRET);
  return ['--cluster', url, ...tlsFiles(), '--secret-file', secretFile, '--min-workers', '2'];
}

test("the SGD models' parameter server runs through the same TLS, ACL user and secret", async () => {
  // Runs after the test above, on its two workers: the ACL must allow the parameter server's Lua
  // scripts and its publish/subscribe channels under the namespace.
  const report = join(dir, 'sgd.json');
  const sgd = ['train', dataset('breast_cancer.csv'), '--target', 'label', '--model', 'sgd-classifier'];
  const r = await runCli([...sgd, ...FIT, ...(await securedCluster()), '--report', report]);
  assert.equal(r.code, 0, r.stderr);
  const rep = JSON.parse(await readFile(report, 'utf8'));
  assert.equal(rep.engine.parameterServer.loops, 1);
  assert.ok(rep.engine.parameterServer.clocks > 0);
  // A linear model separates breast_cancer well: scikit-learn's SGDClassifier scores ~0.97 here.
  assert.ok(rep.metrics.accuracy >= 0.93, `accuracy ${rep.metrics.accuracy}`);
});
