/**
 * Parsers for option values: they refuse bad values with a message that names the option.
 */
import { access, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { UsageError } from '../errors.ts';

/** A finite number. */
export function parseNumber(text: string): number {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v))
    throw new InvalidArgumentError(`expected a finite number, got '${text}'`);
  return v;
}

/** A whole number ≥ 0. */
export function parseCount(text: string): number {
  const v = parseNumber(text);
  if (!Number.isInteger(v) || v < 0)
    throw new InvalidArgumentError(`expected a whole number ≥ 0, got '${text}'`);
  return v;
}

/** A whole number ≥ 1. */
export function parsePositive(text: string): number {
  const v = parseCount(text);
  if (v < 1) throw new InvalidArgumentError(`expected a whole number ≥ 1, got '${text}'`);
  return v;
}

/** A TCP port, 1–65535. */
export function parsePort(text: string): number {
  const v = parsePositive(text);
  if (v > 65535) throw new InvalidArgumentError(`expected a port from 1 to 65535, got '${text}'`);
  return v;
}

/** A fraction in [0, 1). */
export function parseFraction(text: string): number {
  const v = parseNumber(text);
  if (v < 0 || v >= 1) throw new InvalidArgumentError(`expected a fraction in [0, 1), got '${text}'`);
  return v;
}

/** Collects a repeatable option into a list. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** A comma-separated list of column names, e.g. `--categorical a, b`: trimmed, empty names dropped. */
export function columnList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Refuses an output path whose directory does not exist, before any work is done. */
export async function checkWritable(option: string, path: string | undefined): Promise<void> {
  if (path === undefined) return;
  const dir = dirname(resolve(path));
  try {
    const s = await stat(dir);
    if (!s.isDirectory()) throw new Error('not a directory');
    await access(dir, 2 /* W_OK */);
  } catch {
    throw new UsageError(
      `${option} ${path}: directory ${dir} does not exist or is not writable`,
      'create it first',
    );
  }
  const existing = await stat(path).catch(() => undefined);
  if (existing?.isDirectory()) throw new UsageError(`${option} ${path} is a directory`, 'give a file path');
}
