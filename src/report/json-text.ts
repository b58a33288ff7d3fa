/**
 * JSON text in pieces. `writeJson(value, out)` hands `out` pieces whose concatenation is exactly
 * `JSON.stringify(value, null, 2)`: it opens arrays and objects down to a few levels and stringifies what lies below
 * whole, so that a report is written without ever being one string — V8 refuses a string longer than 2^29 − 24
 * code units (about 512 MiB: the JSON of a large image library's scan), and a 15 MB report held as one string and
 * then as one buffer costs twice its size in fresh memory, which is slow to touch.
 *
 * What `JSON.stringify` does that matters here, and how it is kept: a value with a `toJSON` method, a boxed
 * primitive, a BigInt, a function or a symbol is never opened — it is stringified as the member of a one-member
 * object (`{ [key]: value }`), so `toJSON` gets its key, an omitted member (undefined, a function, a symbol) is
 * omitted, and an array element that would be omitted is `null`; members are `Object.keys` order; an empty array
 * or object (or one whose members are all omitted) is `[]` / `{}`. The text of a member stringified whole is
 * re-indented to its depth: JSON escapes newlines inside strings, so every newline in it is a line break of the
 * layout, followed by its indentation.
 */

const INDENT = 2;
/** Levels of arrays and objects opened before what is inside is stringified whole. */
const DEFAULT_DEPTH = 4;

/** Whether `v` is an array or object that `JSON.stringify` serialises member by member. */
function openable(v: unknown): v is object {
  if (typeof v !== 'object' || v === null) return false;
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return false;
  if (Array.isArray(v)) return true;
  // Number, String, Boolean and BigInt objects are serialised as their primitive.
  return !(v instanceof Number || v instanceof String || v instanceof Boolean || v instanceof BigInt);
}

const pads: string[] = [];
function pad(level: number): string {
  return (pads[level] ??= ' '.repeat(INDENT * level));
}

/**
 * The text of `v` as the member `key` of an object at depth `level - 1` (so its own text starts at depth `level`),
 * or undefined when `JSON.stringify` would leave the member out.
 */
function memberText(key: string, v: unknown, level: number): string | undefined {
  // Most values have no `toJSON` of their own and are not left out: stringified as they are, then re-indented.
  if (
    typeof v === 'string' ||
    typeof v === 'number' ||
    typeof v === 'boolean' ||
    v === null ||
    (typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON !== 'function')
  ) {
    const text = JSON.stringify(v, null, INDENT);
    return level === 0 || typeof v !== 'object' ? text : text.replaceAll('\n', `\n${pad(level)}`);
  }
  const s = JSON.stringify({ [key]: v }, null, INDENT);
  if (s === '{}') return undefined;
  // '{\n  "key": <text at depth 1>\n}'
  const body = s.slice(2 + INDENT + JSON.stringify(key).length + 2, s.length - 2);
  return level === 1 ? body : body.replaceAll(`\n${pad(1)}`, `\n${pad(level)}`);
}

/** Writes `v` (the member `key` of its parent, `''` at the top) at depth `level`; false when it is left out. */
function writeValue(
  key: string,
  v: unknown,
  level: number,
  depth: number,
  out: (piece: string) => void,
): boolean {
  if (depth <= 0 || !openable(v)) {
    const text = memberText(key, v, level);
    if (text === undefined) return false;
    out(text);
    return true;
  }
  const inner = pad(level + 1);
  if (Array.isArray(v)) {
    const n = v.length;
    if (n === 0) {
      out('[]');
      return true;
    }
    for (let i = 0; i < n; i++) {
      out(i === 0 ? `[\n${inner}` : `,\n${inner}`);
      if (!writeValue(String(i), (v as unknown[])[i], level + 1, depth - 1, out)) out('null');
    }
    out(`\n${pad(level)}]`);
    return true;
  }
  let any = false;
  const record = v as Record<string, unknown>;
  for (const k of Object.keys(record)) {
    const x = record[k];
    const head = `${any ? ',' : '{'}\n${inner}${JSON.stringify(k)}: `;
    if (depth > 1 && openable(x)) {
      out(head);
      writeValue(k, x, level + 1, depth - 1, out);
    } else {
      const text = memberText(k, x, level + 1);
      if (text === undefined) continue;
      out(head + text);
    }
    any = true;
  }
  out(any ? `\n${pad(level)}}` : '{}');
  return true;
}

/**
 * Writes `JSON.stringify(value, null, 2)` to `out` in pieces (nothing when that is undefined: `value` undefined, a
 * function or a symbol). Throws what `JSON.stringify` throws (a cycle, a BigInt).
 *
 * @example
 * const parts: string[] = [];
 * writeJson({ results: [{ findings }] }, (s) => parts.push(s));
 * parts.join('') === JSON.stringify({ results: [{ findings }] }, null, 2); // true
 */
export function writeJson(value: unknown, out: (piece: string) => void, depth = DEFAULT_DEPTH): void {
  writeValue('', value, 0, depth, out);
}
