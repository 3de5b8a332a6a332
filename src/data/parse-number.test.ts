import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isInfinityToken, parseDecimalBytes, parseDecimalText } from './parse-number.ts';

const bytesOf = (s: string) => Buffer.from(s, 'latin1');
const fast = (s: string) => parseDecimalBytes(bytesOf(s), 0, s.length);

test('plain decimals parse to the same double as Number()', () => {
  for (const s of [
    '0',
    '-0',
    '1',
    '-12.5',
    '3e-7',
    '.5',
    '7.',
    '+4',
    '76.0',
    '0.1',
    '123456789012345',
    '1E10',
    '2.5e+3',
  ]) {
    assert.ok(Object.is(fast(s), Number(s)), s);
  }
});

test('text outside the exact fast path returns NaN so the caller falls back', () => {
  for (const s of [
    '',
    '-',
    '.',
    'e5',
    '1e',
    '1.2.3',
    'abc',
    '0x10',
    ' 1',
    '1 ',
    '12345678901234567891',
    '1e23',
    '1e-23',
    'NaN',
  ]) {
    assert.ok(Number.isNaN(fast(s)), s);
  }
});

test('property: any double printed by String() parses back exactly or defers', () => {
  fc.assert(
    fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (v) => {
      const s = String(v);
      const got = fast(s);
      return Number.isNaN(got) || Object.is(got, Number(s));
    }),
    { numRuns: 20000 },
  );
});

test('property: short decimals always take the fast path and are exact', () => {
  const decimal = fc
    .tuple(
      fc.boolean(),
      fc.stringMatching(/^\d{1,8}$/),
      fc.stringMatching(/^\d{0,7}$/),
      fc.integer({ min: -15, max: 15 }),
    )
    .map(([neg, int, frac, exp]) => `${neg ? '-' : ''}${int}${frac ? `.${frac}` : ''}e${exp}`);
  fc.assert(
    fc.property(decimal, (s) => Object.is(fast(s), Number(s))),
    { numRuns: 20000 },
  );
});

test('property: 16 to 19 significant digits (full-precision output) are exact or defer', () => {
  const long = fc
    .tuple(
      fc.boolean(),
      fc.stringMatching(/^[1-9]\d{15,18}$/),
      fc.integer({ min: 0, max: 19 }),
      fc.integer({ min: -30, max: 30 }),
    )
    .map(
      ([neg, digits, point, exp]) =>
        `${neg ? '-' : ''}${digits.slice(0, point)}.${digits.slice(point)}${exp ? `e${exp}` : ''}`,
    );
  let fastCount = 0;
  fc.assert(
    fc.property(long, (s) => {
      const got = fast(s);
      if (!Number.isNaN(got)) fastCount++;
      return Number.isNaN(got) || Object.is(got, Number(s));
    }),
    { numRuns: 100000 },
  );
  // Nearly all of them take the fast path; the rest have exponents past 10^±22.
  assert.ok(fastCount > 50000, `only ${fastCount} took the fast path`);
});

test('full-precision doubles and their neighbours in the last digit are exact', () => {
  let s = 12345;
  for (let i = 0; i < 200000; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const v = (s / 2147483648 - 0.5) * 10 ** ((i % 20) - 10);
    const text = v.toPrecision(17);
    for (const t of [text, text.replace(/\d(?=(e|$))/, (d) => String((Number(d) + 1) % 10))]) {
      const got = fast(t);
      assert.ok(Number.isNaN(got) || Object.is(got, Number(t)), t);
    }
  }
});

test('exact ties between two doubles round to even like Number()', () => {
  // 2^53 + 1 and 2^53 + 3 sit exactly halfway between representable doubles.
  for (const t of [
    '9007199254740993',
    '9007199254740995',
    '-9007199254740993',
    '900719925474099.3e1',
    '4503599627370496.5',
  ]) {
    const got = fast(t);
    assert.ok(Number.isNaN(got) || Object.is(got, Number(t)), t);
  }
});

test('parseDecimalText accepts decimals with spaces and refuses hex and words', () => {
  assert.equal(parseDecimalText(' 2.5 '), 2.5);
  assert.equal(parseDecimalText('12345678901234567890'), 1.2345678901234567e19);
  for (const s of ['0x10', '0b1', '', 'Infinity', 'abc']) assert.ok(Number.isNaN(parseDecimalText(s)), s);
});

test('infinity spellings are recognised', () => {
  for (const s of ['inf', '-Inf', 'INFINITY', '+infinity']) assert.ok(isInfinityToken(s), s);
  assert.equal(isInfinityToken('info'), false);
});
