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
 * Parses the field that starts at `start` as a number, stopping at `delimiter`, CR, LF or `end`.
 * Sets `scanned.end` to where the field ends. `buf[end]` must exist and hold 0: the sentinel lets
 * the digit loops run without a bounds test per byte.
 * @returns the value, or NaN when the field is not a decimal the fast paths round exactly (the
 *   caller then looks at the text)
 */
export function scanNumber(buf: Uint8Array, start: number, end: number, delimiter: number): number {
  let i = start;
  let c = buf[i]!;
  let negative = false;
  if (c === 45 /* - */ || c === 43 /* + */) {
    negative = c === 45;
    c = buf[++i]!;
  }
  let hi = 0; // first 15 significant digits
  let lo = 0; // the next ones, up to 4
  let loDigits = 0;
  let significant = 0;
  let exponent = 0;
  let digits = 0;
  let tooLong = false;
  for (;;) {
    const d = c - 48;
    if (d < 0 || d > 9) break;
    digits++;
    if (significant > 0 || d !== 0) {
      if (significant < 15) hi = hi * 10 + d;
      else if (significant < 19) {
        lo = lo * 10 + d;
        loDigits++;
      } else if (d !== 0) tooLong = true;
      else exponent++; // trailing zeros beyond 19 digits scale instead
      significant++;
    }
    c = buf[++i]!;
  }
  if (c === 46 /* . */) {
    c = buf[++i]!;
    for (;;) {
      const d = c - 48;
      if (d < 0 || d > 9) break;
      digits++;
      if (significant > 0 || d !== 0) {
        if (significant < 15) {
          hi = hi * 10 + d;
          exponent--;
        } else if (significant < 19) {
          lo = lo * 10 + d;
          loDigits++;
          exponent--;
        } else if (d !== 0) tooLong = true;
        significant++;
      } else exponent--;
      c = buf[++i]!;
    }
  }
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
      const d = c - 48;
      if (d < 0 || d > 9) break;
      if (e < 100000) e = e * 10 + d;
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
    return NOT_FAST;
  }
  scanned.end = i;
  if (digits === 0 || tooLong) return NOT_FAST;
  // Digits were taken into hi first, then lo: the value is (hi·10^loDigits + lo)·10^exponent.
  const value = loDigits === 0 ? clinger(hi, exponent) : doubleDouble(hi, lo, loDigits, exponent);
  return negative ? -value : value;
}

/** m·10^e for m < 2^53, exactly rounded when |e| ≤ 22; NaN otherwise. */
function clinger(m: number, e: number): number {
  if (m === 0) return 0;
  if (e === 0) return m;
  if (e > 0 && e <= 22) return m * POW10[e]!;
  if (e < 0 && e >= -22) return m / POW10[-e]!;
  return NOT_FAST;
}

// Error-free product of a and b: returns fl(a·b) and leaves the rounding error in `productError`.
let productError = 0;
function twoProduct(a: number, b: number): number {
  const p = a * b;
  let t = SPLITTER * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b);
  const bl = b - bh;
  productError = ah * bh - p + ah * bl + al * bh + al * bl;
  return p;
}

/** (hi·10^k + lo)·10^e with hi < 10^15, lo < 10^k, 1 ≤ k ≤ 4, exactly rounded or NaN. */
function doubleDouble(hi: number, lo: number, k: number, e: number): number {
  if (e > 22 || e < -22) return NOT_FAST;
  // W = hi·10^k + lo exactly, as wh + wl.
  const p = twoProduct(hi, POW10[k]!);
  const pe = productError;
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
    const t = productError + wl * P;
    const r = x + t;
    const delta = Math.abs(r) * NUDGE;
    return x + (t + delta) === r && x + (t - delta) === r ? r : NOT_FAST;
  }
  const P = POW10[-e]!;
  const q = wh / P;
  const m = twoProduct(q, P);
  const c = (wh - m - productError + wl) / P;
  const r = q + c;
  const delta = Math.abs(r) * NUDGE;
  return q + (c + delta) === r && q + (c - delta) === r ? r : NOT_FAST;
}

/**
 * Parses bytes[start, end) as a decimal number (`-12.5`, `3e-7`, `.5`, `7.`).
 * @returns the value, or NaN when the text is not a decimal the fast paths can round exactly
 */
export function parseDecimalBytes(bytes: Uint8Array, start: number, end: number): number {
  // Copy with the sentinel byte scanNumber needs; LF as delimiter: the whole range is the field.
  const field = new Uint8Array(end - start + 1);
  field.set(bytes.subarray(start, end));
  const v = scanNumber(field, 0, end - start, 10);
  return scanned.end === end - start ? v : NOT_FAST;
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
