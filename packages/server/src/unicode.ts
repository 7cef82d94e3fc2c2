// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Whether `text` is well-formed UTF-16 (no lone surrogate), so UTF-8 (SQLite, PostgreSQL, index
 * files) holds it unchanged. `String.prototype.isWellFormed` does the same on Node 20 but is not
 * in the ES2023 typings.
 * @example isWellFormedText('a\ud800') // false
 */
export function isWellFormedText(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}
