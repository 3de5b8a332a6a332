/**
 * Level-1 and level-2 BLAS kernels on `Float64Array`.
 *
 * Vectors are a span of `n` elements starting at an offset, so a kernel can run on a row of a
 * matrix or a slice of a partition without creating a view (`subarray` views work too: they are
 * zero-copy, but each one is an object, which costs inside a loop over rows). Matrices are dense and
 * row-major. Kernels write into buffers the caller provides and never allocate.
 *
 * Names: `n` is a length, `m × n` a matrix shape, `A` a matrix, `x`/`y` vectors, `a`/`alpha`/`beta`
 * scalars, `xOff`/`yOff` the offset of a span inside its array.
 *
 * Loops run four elements (or four rows) at a time with independent float64 accumulators: this
 * lets the CPU overlap the multiply-adds and roughly doubles throughput over a plain loop. The
 * summation order is therefore fixed but not left-to-right; results are deterministic.
 */

/**
 * Throws a `RangeError` unless `array[offset .. offset + n)` lies inside `array`.
 *
 * Kernels call this once on entry so that a wrong shape fails loudly instead of reading
 * `undefined` (which a typed array turns into NaN) deep inside a loop.
 *
 * @param what - the argument's name, for the message
 */
export function checkSpan(what: string, array: ArrayLike<number>, offset: number, n: number): void {
  if (!Number.isInteger(n) || n < 0)
    throw new RangeError(`${what}: length ${n} is not a non-negative integer`);
  if (!Number.isInteger(offset) || offset < 0) {
    throw new RangeError(`${what}: offset ${offset} is not a non-negative integer`);
  }
  if (offset + n > array.length) {
    throw new RangeError(
      `${what}: span [${offset}, ${offset + n}) runs past the end of an array of length ${array.length}`,
    );
  }
}

/**
 * The dot product Σ x[xOff + i]·y[yOff + i] over `i < n`.
 *
 * @param n - number of elements; defaults to `x.length` (pass it whenever you pass an offset)
 */
export function dot(x: Float64Array, y: Float64Array, n = x.length, xOff = 0, yOff = 0): number {
  checkSpan('dot x', x, xOff, n);
  checkSpan('dot y', y, yOff, n);
  return dotUnchecked(n, x, xOff, y, yOff);
}

/**
 * {@link dot} without the span checks, for kernels that have checked their whole matrix once and
 * then take many dot products of its rows.
 */
export function dotUnchecked(
  n: number,
  x: Float64Array,
  xOff: number,
  y: Float64Array,
  yOff: number,
): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const n4 = n - (n % 4);
  let i = 0;
  for (; i < n4; i += 4) {
    s0 += x[xOff + i]! * y[yOff + i]!;
    s1 += x[xOff + i + 1]! * y[yOff + i + 1]!;
    s2 += x[xOff + i + 2]! * y[yOff + i + 2]!;
    s3 += x[xOff + i + 3]! * y[yOff + i + 3]!;
  }
  for (; i < n; i++) s0 += x[xOff + i]! * y[yOff + i]!;
  return s0 + s1 + (s2 + s3);
}

/**
 * y ← a·x + y over `n` elements.
 *
 * @param n - number of elements; defaults to `x.length` (pass it whenever you pass an offset)
 */
export function axpy(a: number, x: Float64Array, y: Float64Array, n = x.length, xOff = 0, yOff = 0): void {
  checkSpan('axpy x', x, xOff, n);
  checkSpan('axpy y', y, yOff, n);
  const n4 = n - (n % 4);
  let i = 0;
  for (; i < n4; i += 4) {
    y[yOff + i] = y[yOff + i]! + a * x[xOff + i]!;
    y[yOff + i + 1] = y[yOff + i + 1]! + a * x[xOff + i + 1]!;
    y[yOff + i + 2] = y[yOff + i + 2]! + a * x[xOff + i + 2]!;
    y[yOff + i + 3] = y[yOff + i + 3]! + a * x[xOff + i + 3]!;
  }
  for (; i < n; i++) y[yOff + i] = y[yOff + i]! + a * x[xOff + i]!;
}

/**
 * y[yOff + j] += Σ a[aOff + t]·x[xOff + t·n + j] over `rows` consecutive rows t of a row-major
 * matrix with `n` columns, for j < n: the gradient update of a block of rows (Xᵀ·residual).
 *
 * The additions happen row after row, so the result is bit for bit that of one axpy per row: a
 * row-by-row kernel blocked this way keeps its results. Four rows at a time, each element of y is
 * loaded and stored once per four rows instead of once per row (the logistic kernel ran 1.4×
 * faster on 400,000 × 50). No span checks: for kernels that checked their whole matrix once.
 */
export function axpyRowsUnchecked(
  n: number,
  rows: number,
  a: Float64Array,
  aOff: number,
  x: Float64Array,
  xOff: number,
  y: Float64Array,
  yOff: number,
): void {
  let t = 0;
  for (; t + 4 <= rows; t += 4) {
    const a0 = a[aOff + t]!;
    const a1 = a[aOff + t + 1]!;
    const a2 = a[aOff + t + 2]!;
    const a3 = a[aOff + t + 3]!;
    const r0 = xOff + t * n;
    const r1 = r0 + n;
    const r2 = r1 + n;
    const r3 = r2 + n;
    for (let j = 0; j < n; j++) {
      let v = y[yOff + j]!;
      v += a0 * x[r0 + j]!;
      v += a1 * x[r1 + j]!;
      v += a2 * x[r2 + j]!;
      v += a3 * x[r3 + j]!;
      y[yOff + j] = v;
    }
  }
  for (; t < rows; t++) {
    const at = a[aOff + t]!;
    const r = xOff + t * n;
    for (let j = 0; j < n; j++) y[yOff + j] = y[yOff + j]! + at * x[r + j]!;
  }
}

/**
 * x ← a·x over `n` elements.
 *
 * @param n - number of elements; defaults to `x.length` (pass it whenever you pass an offset)
 */
export function scal(a: number, x: Float64Array, n = x.length, off = 0): void {
  checkSpan('scal x', x, off, n);
  for (let i = off; i < off + n; i++) x[i] = a * x[i]!;
}

/**
 * The Euclidean norm √(Σ x²) over `n` elements.
 *
 * The fast path sums squares directly; when that overflows to Infinity or underflows to 0 for a
 * nonzero vector, a second pass rescales by the largest magnitude (as LAPACK's dnrm2 does), so
 * vectors with entries near 1e±200 still get an accurate norm.
 *
 * @param n - number of elements; defaults to `x.length` (pass it whenever you pass an offset)
 */
export function nrm2(x: Float64Array, n = x.length, off = 0): number {
  checkSpan('nrm2 x', x, off, n);
  const ss = dotUnchecked(n, x, off, x, off);
  if (ss > 1e-280 && ss < Number.POSITIVE_INFINITY) return Math.sqrt(ss);
  if (Number.isNaN(ss)) return ss;
  let scale = 0;
  for (let i = off; i < off + n; i++) {
    const v = Math.abs(x[i]!);
    if (v > scale) scale = v;
  }
  if (scale === 0 || scale === Number.POSITIVE_INFINITY) return scale;
  let sum = 0;
  for (let i = off; i < off + n; i++) {
    const v = x[i]! / scale;
    sum += v * v;
  }
  return scale * Math.sqrt(sum);
}

/**
 * y ← alpha·A·x + beta·y, for a row-major `m × n` matrix A, `x` of length n and `y` of length m.
 *
 * When `beta` is 0, `y` is only written, never read (so NaN in an uninitialised `y` does not leak
 * into the result), as in reference BLAS.
 */
export function gemv(
  m: number,
  n: number,
  A: Float64Array,
  x: Float64Array,
  y: Float64Array,
  alpha = 1,
  beta = 0,
): void {
  checkSpan('gemv A', A, 0, m * n);
  checkSpan('gemv x', x, 0, n);
  checkSpan('gemv y', y, 0, m);
  // Four rows at a time share each load of x.
  const m4 = m - (m % 4);
  let i = 0;
  for (; i < m4; i += 4) {
    const r0 = i * n;
    const r1 = r0 + n;
    const r2 = r1 + n;
    const r3 = r2 + n;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let j = 0; j < n; j++) {
      const xj = x[j]!;
      s0 += A[r0 + j]! * xj;
      s1 += A[r1 + j]! * xj;
      s2 += A[r2 + j]! * xj;
      s3 += A[r3 + j]! * xj;
    }
    if (beta === 0) {
      y[i] = alpha * s0;
      y[i + 1] = alpha * s1;
      y[i + 2] = alpha * s2;
      y[i + 3] = alpha * s3;
    } else {
      y[i] = alpha * s0 + beta * y[i]!;
      y[i + 1] = alpha * s1 + beta * y[i + 1]!;
      y[i + 2] = alpha * s2 + beta * y[i + 2]!;
      y[i + 3] = alpha * s3 + beta * y[i + 3]!;
    }
  }
  for (; i < m; i++) {
    const s = dotUnchecked(n, A, i * n, x, 0);
    y[i] = beta === 0 ? alpha * s : alpha * s + beta * y[i]!;
  }
}

/**
 * y ← alpha·Aᵀ·x + beta·y, for a row-major `m × n` matrix A, `x` of length m and `y` of length n.
 *
 * This is the gradient shape of a linear model (Xᵀ·residual): it walks A row by row, so it
 * streams A once in memory order. When `beta` is 0, `y` is only written, never read.
 */
export function gemvT(
  m: number,
  n: number,
  A: Float64Array,
  x: Float64Array,
  y: Float64Array,
  alpha = 1,
  beta = 0,
): void {
  checkSpan('gemvT A', A, 0, m * n);
  checkSpan('gemvT x', x, 0, m);
  checkSpan('gemvT y', y, 0, n);
  if (beta === 0) y.fill(0, 0, n);
  else if (beta !== 1) for (let j = 0; j < n; j++) y[j] = beta * y[j]!;
  // Four rows at a time: one load and one store of y per four multiply-adds.
  const m4 = m - (m % 4);
  let i = 0;
  for (; i < m4; i += 4) {
    const a0 = alpha * x[i]!;
    const a1 = alpha * x[i + 1]!;
    const a2 = alpha * x[i + 2]!;
    const a3 = alpha * x[i + 3]!;
    const r0 = i * n;
    const r1 = r0 + n;
    const r2 = r1 + n;
    const r3 = r2 + n;
    for (let j = 0; j < n; j++) {
      y[j] = y[j]! + (a0 * A[r0 + j]! + a1 * A[r1 + j]! + (a2 * A[r2 + j]! + a3 * A[r3 + j]!));
    }
  }
  for (; i < m; i++) {
    const a = alpha * x[i]!;
    const r = i * n;
    for (let j = 0; j < n; j++) y[j] = y[j]! + a * A[r + j]!;
  }
}
