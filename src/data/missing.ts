/**
 * The text tokens that mean "no value" in CSV and JSON-lines data. An empty field counts too.
 * Kept in one place so every reader agrees.
 */
export const MISSING_TOKENS: ReadonlySet<string> = new Set(['', 'NA', 'NaN', 'nan', 'null', 'NULL', 'N/A']);

/** Whether a field's text means a missing value. */
export function isMissingToken(text: string): boolean {
  return MISSING_TOKENS.has(text);
}
