/**
 * Decimal text to float64, straight from bytes, giving exactly the double `Number(text)` gives.
 *
 * Two exact fast paths cover nearly every number found in data files:
 * - up to 15 significant digits and |exponent| ≤ 22: the digits form an integer m < 2^53 and 10^|e|
 *   is exact, so m·10^e (or m/10^-e) is one correctly rounded operation (Clinger's fast path);
 * - 16 to 19 significant digits (what printing a double with full precision produces): the digits
 *   are held exactly as a double-double, scaled by 10^e with error-free products (Dekker), and the
 *   result is rounded once. The only inputs this could round wrongly lie within 2^-40 of an ulp of
 *   a rounding midpoint; those are detected and left to `Number()`.
 * Everything else (more digits, huge exponents, words) returns NaN and the caller falls back.
 */

/** Returned by {@link parseDecimalBytes} when the text is not a decimal the fast paths can round exactly. */
export const NOT_FAST = Number.NaN;

const POW10 = new Float64Array(23);
POW10[0] = 1;
for (let i = 1; i < 23; i++) POW10[i] = POW10[i - 1]! * 10;

/** 2^-90: relative to |r|, between 2^-38 and 2^-37 of an ulp of r. */
const NUDGE = 2 ** -90;

const SPLITTER = 134217729; // 2^27 + 1, for Veltkamp splitting

/** Where {@link scanNumber} stopped: the byte after the field (a delimiter, CR, LF or the end). */
export const scanned = { end: 0 };

/**
 * The value {@link scanNumber} read. A double returned from a function that is not inlined is
 * boxed on the heap: 16 bytes of garbage for every number of a file, where a typed array's element
 * takes it as it is.
 */
export const scannedValue = new Float64Array(1);

/**
 * Parses the field that starts at `start` as a number, stopping at `delimiter`, CR, LF or `end`.
 * Sets `scanned.end` to where the field ends. `buf[end]` must exist and hold 0: the sentinel lets
 * the digit loops run without a bounds test per byte.
 * @returns whether it read a value, which is then in `scannedValue[0]`; false when the field is not
 *   a decimal the fast paths round exactly (the caller then looks at the text)
 */
export function scanNumber(buf: Uint8Array, start: number, end: number, delimiter: number): boolean {
  let i = start;
  let c = buf[i]!;
  let negative = false;
  if (c === 45 /* - */ || c === 43 /* + */) {
    negative = c === 45;
    c = buf[++i]!;
  }
  // The digits go into hi (the first 15 significant ones) and lo (the next ones, up to 4). Each
  // stage is a loop of its own: one test per digit, where a single loop tested the stage too.
  let hi = 0;
  let lo = 0;
  let significant = 0;
  let exponent = 0;
  let tooLong = false;
  const integerStart = i;
  while (c === 48 /* 0 */) c = buf[++i]!; // leading zeros carry nothing
  let d = c - 48;
  // Two digits a step while they fit: half as many multiply-adds in the chain that bounds this loop.
  for (; significant < 14; significant += 2) {
    if (d >>> 0 >= 10) break;
    const d2 = buf[i + 1]! - 48; // in bounds: buf[i] is a digit, so i < end and buf[end] exists
    if (d2 >>> 0 >= 10) break;
    hi = hi * 100 + (d * 10 + d2);
    i += 2;
    d = buf[i]! - 48;
  }
  for (; d >>> 0 < 10 && significant < 15; significant++) {
    hi = hi * 10 + d;
    d = buf[++i]! - 48;
  }
  const loStart = i;
  for (; d >>> 0 < 10 && significant < 19; significant++) {
    lo = lo * 10 + d;
    d = buf[++i]! - 48;
  }
  let loDigits = i - loStart;
  // Beyond 19 digits, zeros only scale the value; any other digit is more than the fast paths hold.
  for (; d >>> 0 < 10; d = buf[++i]! - 48) {
    if (d !== 0) tooLong = true;
    exponent++;
  }
  let digits = i - integerStart;
  if (d === 46 - 48 /* . */) {
    const fractionStart = ++i;
    d = buf[i]! - 48;
    if (significant === 0) while (d === 0) d = buf[++i]! - 48;
    // The integer part's loops again, on the same locals: a helper would have to hand back four
    // values through memory, in the loop that bounds the whole parser.
    for (; significant < 14; significant += 2) {
      if (d >>> 0 >= 10) break;
      const d2 = buf[i + 1]! - 48;
      if (d2 >>> 0 >= 10) break;
      hi = hi * 100 + (d * 10 + d2);
      i += 2;
      d = buf[i]! - 48;
    }
    for (; d >>> 0 < 10 && significant < 15; significant++) {
      hi = hi * 10 + d;
      d = buf[++i]! - 48;
    }
    const fractionLoStart = i;
    for (; d >>> 0 < 10 && significant < 19; significant++) {
      lo = lo * 10 + d;
      d = buf[++i]! - 48;
    }
    loDigits += i - fractionLoStart;
    // Every fraction digit so far (leading zeros included) is a power of ten down.
    exponent -= i - fractionStart;
    for (; d >>> 0 < 10; d = buf[++i]! - 48) if (d !== 0) tooLong = true;
    digits += i - fractionStart;
  }
  c = d + 48;
  if (digits > 0 && (c === 101 /* e */ || c === 69) /* E */) {
    c = buf[++i]!;
    let expNegative = false;
    if (c === 45 || c === 43) {
      expNegative = c === 45;
      c = buf[++i]!;
    }
    let e = 0;
    let expDigits = 0;
    for (;;) {
      const x = c - 48;
      if (x < 0 || x > 9) break;
      if (e < 100000) e = e * 10 + x;
      expDigits++;
      c = buf[++i]!;
    }
    if (expDigits === 0) digits = 0;
    exponent += expNegative ? -e : e;
  }
  if (i < end && c !== delimiter && c !== 10 && c !== 13) {
    // Not a number: find the end of the field for the caller.
    while (i < end) {
      c = buf[i]!;
      if (c === delimiter || c === 10 || c === 13) break;
      i++;
    }
    scanned.end = i;
    return false;
  }
  scanned.end = i;
  if (digits === 0 || tooLong) return false;
  // Digits were taken into hi first, then lo: the value is (hi·10^loDigits + lo)·10^exponent.
  const fast = loDigits === 0 ? clinger(hi, exponent) : doubleDouble(hi, lo, loDigits, exponent);
  if (fast && negative) scannedValue[0] = -scannedValue[0]!;
  return fast;
}

/**
 * m·10^e for m < 2^53 into `scannedValue[0]`, exactly rounded when |e| ≤ 22; false otherwise.
 * Values go through the typed array rather than a return, which would box each one (see there).
 */
function clinger(m: number, e: number): boolean {
  if (m === 0 || e === 0) scannedValue[0] = m;
  else if (e > 0 && e <= 22) scannedValue[0] = m * POW10[e]!;
  else if (e < 0 && e >= -22) scannedValue[0] = m / POW10[-e]!;
  else return false;
  return true;
}

// Error-free product of a and b: returns fl(a·b) and leaves the rounding error in `productError`.
// A typed array's element, not a `let`: a double stored in a module variable is boxed on the heap
// at every store.
const productErrors = new Float64Array(1);
function twoProduct(a: number, b: number): number {
  const p = a * b;
  let t = SPLITTER * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b);
  const bl = b - bh;
  productErrors[0] = ah * bh - p + ah * bl + al * bh + al * bl;
  return p;
}

/**
 * (hi·10^k + lo)·10^e with hi < 10^15, lo < 10^k, 1 ≤ k ≤ 4, exactly rounded into
 * `scannedValue[0]`; false when it cannot tell the rounding.
 */
function doubleDouble(hi: number, lo: number, k: number, e: number): boolean {
  if (e > 22 || e < -22) return false;
  // W = hi·10^k + lo exactly, as wh + wl.
  const p = twoProduct(hi, POW10[k]!);
  const pe = productErrors[0]!;
  const s = p + lo;
  const se = lo - (s - p); // exact: |p| ≥ |lo|
  const tail = pe + se; // both are small integers: exact
  const wh = s + tail;
  const wl = tail - (wh - s);
  // The computed tail is within ~2^-50 ulp of the exact one. Nudging it by δ ≈ 2^-38 ulp either
  // way must not change the rounding; if it does, the exact value sits at (or next to) a midpoint
  // between two doubles, and Number() decides.
  if (e >= 0) {
    const P = POW10[e]!;
    const x = twoProduct(wh, P);
    const t = productErrors[0]! + wl * P;
    const r = x + t;
    const delta = Math.abs(r) * NUDGE;
    scannedValue[0] = r;
    return x + (t + delta) === r && x + (t - delta) === r;
  }
  const P = POW10[-e]!;
  const q = wh / P;
  const m = twoProduct(q, P);
  const c = (wh - m - productErrors[0]! + wl) / P;
  const r = q + c;
  const delta = Math.abs(r) * NUDGE;
  scannedValue[0] = r;
  return q + (c + delta) === r && q + (c - delta) === r;
}

/**
 * Parses bytes[start, end) as a decimal number (`-12.5`, `3e-7`, `.5`, `7.`).
 * @returns the value, or NaN when the text is not a decimal the fast paths can round exactly
 */
export function parseDecimalBytes(bytes: Uint8Array, start: number, end: number): number {
  // Copy with the sentinel byte scanNumber needs; LF as delimiter: the whole range is the field.
  const field = new Uint8Array(end - start + 1);
  field.set(bytes.subarray(start, end));
  const read = scanNumber(field, 0, end - start, 10);
  return read && scanned.end === end - start ? scannedValue[0]! : NOT_FAST;
}

/** Text forms of infinity that `Number()` or common tools write; they are not finite data. */
const INFINITY_TOKENS: ReadonlySet<string> = new Set([
  'inf',
  '+inf',
  '-inf',
  'infinity',
  '+infinity',
  '-infinity',
]);

/** Whether `text` spells an infinity (any letter case). */
export function isInfinityToken(text: string): boolean {
  return INFINITY_TOKENS.has(text.trim().toLowerCase());
}

const DECIMAL = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;

/**
 * Parses decimal text exactly as `Number()` would, but only decimal forms: hex, binary and the
 * empty string are not numbers in a data file. @returns NaN when `text` is not a decimal number
 */
export function parseDecimalText(text: string): number {
  return DECIMAL.test(text) ? Number(text) : Number.NaN;
}
