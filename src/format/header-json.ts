/**
 * The JSON of a model file's header, made and checked safely: a canonical copy of what is written
 * (sorted keys, so equal contents give equal bytes, and nothing JSON would drop or change
 * silently), and a scan of what is read for keys that could reach an object's prototype. The
 * binary layout around it is tensor-container.ts's.
 */
import type { ModelFileError, ModelFileFault } from '../errors.ts';

/** Builds the error of a refused file (it names the file). */
export type Fail = (fault: ModelFileFault, detail: string, hint?: string) => ModelFileError;

/** Keys a header may not hold anywhere: through them, parsed JSON could reach a prototype. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * A deep copy of `value` with object keys sorted, so equal contents give equal bytes; refuses
 * anything JSON would drop or change silently.
 */
export function canonicalJson(value: unknown, path: string, ancestors: object[], fail: Fail): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) {
      throw fail(
        'bad-header',
        `${path} is ${value}, which JSON cannot hold`,
        'store it as a tensor or a string',
      );
    }
    return value;
  }
  if (typeof value !== 'object') throw fail('bad-header', `${path} is a ${typeof value}, not JSON data`);
  if (ancestors.includes(value)) throw fail('bad-header', `${path} refers back to itself`);
  ancestors.push(value);
  let out: unknown;
  if (Array.isArray(value)) {
    out = value.map((v, i) => {
      if (v === undefined) throw fail('bad-header', `${path}[${i}] is undefined, which JSON cannot hold`);
      return canonicalJson(v, `${path}[${i}]`, ancestors, fail);
    });
  } else if (isPlainObject(value)) {
    const obj: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      if (FORBIDDEN_KEYS.has(key)) throw fail('forbidden-key', `${path} has the key '${key}'`, 'rename it');
      const v = value[key];
      if (v !== undefined) obj[key] = canonicalJson(v, `${path}.${key}`, ancestors, fail);
    }
    out = obj;
  } else {
    const hint = 'convert it to plain objects and arrays';
    throw fail('bad-header', `${path} is a ${describe(value)}, not plain JSON data`, hint);
  }
  ancestors.pop();
  return out;
}

/** The first forbidden key anywhere in parsed JSON, found without recursion so depth cannot overflow the stack. */
export function findForbiddenKey(root: object): { key: string; path: string } | undefined {
  const stack: { value: unknown; path: string }[] = [{ value: root, path: '(header)' }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { value, path } = item;
    if (value === null || typeof value !== 'object') continue;
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], path: `${path}[${i}]` });
      continue;
    }
    // JSON.parse makes "__proto__" an own property, so Object.keys sees it.
    const keys = Object.keys(value);
    for (const key of keys) if (FORBIDDEN_KEYS.has(key)) return { key, path };
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i]!;
      stack.push({
        value: (value as Record<string, unknown>)[key],
        path: path === '(header)' ? key : `${path}.${key}`,
      });
    }
  }
  return undefined;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A short description of a bad value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) {
    if (value.length > 8) return `an array of ${value.length}`;
    return `[${value.map((v) => JSON.stringify(v) ?? String(v)).join(', ')}]`;
  }
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object';
  if (typeof value === 'string') return `'${value.length > 40 ? `${value.slice(0, 40)}…` : value}'`;
  return String(value);
}
