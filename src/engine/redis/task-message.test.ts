import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkTaskMessage, makeTaskMessage, TASK_MESSAGE_VERSION } from './task-message.ts';

const fields = {
  run: 'r1',
  step: 3,
  partition: 2,
  jobId: 'r1-3-2',
  kernel: 'logistic.lossGradient',
  placement: 'p0',
  argsKey: 'k',
  resultLength: 31,
};
const secret = Buffer.from('0123456789abcdef0123456789abcdef');

test('a signed message verifies with its secret; every tampered field or another secret is refused', () => {
  const m = makeTaskMessage(fields, secret);
  assert.equal(checkTaskMessage(m, secret), undefined);
  assert.equal(checkTaskMessage(m, Buffer.from('another-secret-of-32-bytes-------')), 'bad-signature');
  for (const [key, value] of Object.entries({
    run: 'r2',
    step: 4,
    partition: 1,
    jobId: 'x',
    kernel: 'linear.normalEquations',
    placement: 'p1',
    argsKey: 'k2',
    resultLength: 30,
    nonce: 'aa',
  })) {
    assert.equal(checkTaskMessage({ ...m, [key]: value }, secret), 'bad-signature', key);
  }
  assert.equal(checkTaskMessage({ ...m, sig: 'zz' }, secret), 'bad-signature');
});

test('unsigned, malformed and other-version messages are refused; without a secret well-formed ones pass', () => {
  const plain = makeTaskMessage(fields);
  assert.equal(plain.sig, undefined);
  assert.equal(checkTaskMessage(plain, secret), 'unsigned');
  assert.equal(checkTaskMessage(plain), undefined);
  assert.equal(checkTaskMessage({ ...plain, v: TASK_MESSAGE_VERSION + 1 }), 'bad-version');
  assert.equal(checkTaskMessage({ ...plain, v: TASK_MESSAGE_VERSION - 1 }), 'bad-version');
  assert.equal(checkTaskMessage({ ...plain, step: '3' }), 'malformed');
  assert.equal(checkTaskMessage(null), 'malformed');
  assert.notEqual(makeTaskMessage(fields, secret).nonce, makeTaskMessage(fields, secret).nonce);
});

test("the values' digests are signed with the message: a changed, added or dropped digest is refused", () => {
  const a = 'a'.repeat(64);
  const b = 'b'.repeat(64);
  const m = makeTaskMessage({ ...fields, digests: { k: a, 'part:0': b } }, secret);
  assert.equal(checkTaskMessage(m, secret), undefined);
  assert.equal(checkTaskMessage({ ...m, digests: { k: b, 'part:0': b } }, secret), 'bad-signature');
  assert.equal(
    checkTaskMessage({ ...m, digests: { k: a, 'part:0': b, 'part:1': a } }, secret),
    'bad-signature',
  );
  const { digests: _dropped, ...without } = m;
  assert.equal(checkTaskMessage(without, secret), 'bad-signature');
  assert.equal(checkTaskMessage({ ...m, digests: { k: 'not-hex' } }, secret), 'malformed');
  assert.equal(checkTaskMessage({ ...m, digests: [a] }, secret), 'malformed');
});

test("a raw placement's decoder is signed with the message: another decoder, spec or digest is refused", () => {
  const decoder = { name: 'frame', specKey: 'distml:run:r1:spec:p0', specDigest: 'c'.repeat(64) };
  const m = makeTaskMessage({ ...fields, decoder }, secret);
  assert.equal(checkTaskMessage(m, secret), undefined);
  for (const changed of [
    { ...decoder, name: 'other' },
    { ...decoder, specKey: 'distml:run:r1:spec:p1' },
    { ...decoder, specDigest: 'd'.repeat(64) },
  ])
    assert.equal(checkTaskMessage({ ...m, decoder: changed }, secret), 'bad-signature');
  const { decoder: _dropped, ...without } = m;
  assert.equal(checkTaskMessage(without, secret), 'bad-signature');
  assert.equal(checkTaskMessage({ ...m, decoder: { ...decoder, specDigest: 'short' } }, secret), 'malformed');
});
