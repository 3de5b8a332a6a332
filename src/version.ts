/**
 * The package version, read from package.json beside src/ and dist/ (one level up from either).
 */
import { readFileSync } from 'node:fs';

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    // Bundled or relocated builds may not ship package.json; the version is informative only.
    return '0.0.0';
  }
}

/** This build's version. */
export const VERSION: string = readVersion();
