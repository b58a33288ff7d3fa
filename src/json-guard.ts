/**
 * `JSON.parse` for input that may be hostile: refuses text over a size limit or nested deeper than a limit before
 * parsing (V8's parser recurses, so deep nesting would otherwise overflow the stack), and reports the byte offset
 * of a syntax error. Pure, no I/O.
 */
import { HyperwardError, type ErrorLocation } from './errors.js';

export interface JsonLimits {
  /** Largest text accepted, in UTF-16 code units (≈ bytes for JSON). */
  maxLength: number;
  /** Deepest nesting of arrays and objects accepted. */
  maxDepth: number;
}

export const DEFAULT_JSON_LIMITS: JsonLimits = { maxLength: 512 * 1024 * 1024, maxDepth: 64 };

/**
 * Parses `text` as JSON within `limits`.
 * @throws HyperwardError `E_LIMIT` when the text is too large or too deep, `E_CONFIG_SYNTAX` when it is not JSON;
 * both name `where.file` and the offset.
 */
export function parseJsonGuarded(
  text: string,
  where: Pick<ErrorLocation, 'file' | 'layer'>,
  limits: JsonLimits = DEFAULT_JSON_LIMITS,
): unknown {
  if (text.length > limits.maxLength) {
    throw new HyperwardError(
      'E_LIMIT',
      `JSON text of ${text.length} characters exceeds ${limits.maxLength}`,
      {
        ...where,
      },
    );
  }
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limits.maxDepth) {
        throw new HyperwardError('E_LIMIT', `JSON nested deeper than ${limits.maxDepth} levels`, {
          ...where,
          offset: i,
        });
      }
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    const m = /position (\d+)/.exec((e as Error).message);
    const loc: ErrorLocation = { ...where };
    if (m) loc.offset = Number(m[1]);
    throw new HyperwardError('E_CONFIG_SYNTAX', `not valid JSON: ${(e as Error).message}`, loc);
  }
}

/** A plain JSON object (not an array, not null), for narrowing parsed input. */
export function isJsonObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
