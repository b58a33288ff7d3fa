/**
 * What every Proxmox configuration reader shares: size and count caps, line splitting, Proxmox's URL-style text
 * decoding, and errors that name the file and line. Pure; no I/O.
 */
import { HyperwardError } from '../../errors.js';

/** Largest configuration file read, in characters. pmxcfs stores far smaller files; this bounds loose files. */
export const MAX_CONFIG_CHARS = 4 * 1024 * 1024;
/** Most sections (snapshots, ipsets, groups, storages) in one file. */
export const MAX_SECTIONS = 10_000;
/** Most keys in one section. */
export const MAX_KEYS = 10_000;

/** A record safe to fill with keys taken from hostile input (`__proto__` is an ordinary key here). */
export function dict<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/** Where a problem is: the file, the layer and line, and the byte offset of the line's start. */
export function configError(
  code: 'E_UNSUPPORTED_FORMAT' | 'E_LIMIT',
  message: string,
  file: string,
  layer: string,
  text?: string,
  charOffset?: number,
): HyperwardError {
  const loc: { file: string; layer: string; offset?: number } = { file, layer };
  if (text !== undefined && charOffset !== undefined) {
    loc.offset = Buffer.byteLength(text.slice(0, Math.max(0, Math.min(charOffset, text.length))), 'utf8');
  }
  return new HyperwardError(code, message, loc);
}

/** One line of a file: its text without the line break, its 1-based number, and its character offset. */
export interface Line {
  text: string;
  no: number;
  offset: number;
}

/**
 * Splits a configuration file into lines after checking it is text of a sane size: NUL characters mean binary
 * junk, not a configuration, and are refused rather than read as an empty config that would pass every check.
 */
export function splitLines(text: string, file: string, kind: string): Line[] {
  if (text.length > MAX_CONFIG_CHARS) {
    throw configError(
      'E_LIMIT',
      `${kind} is ${text.length} characters, more than ${MAX_CONFIG_CHARS}`,
      file,
      kind,
    );
  }
  const nul = text.indexOf('\0');
  if (nul >= 0) {
    const no = countLines(text, nul);
    throw configError(
      'E_UNSUPPORTED_FORMAT',
      `NUL byte: not a ${kind}`,
      file,
      `${kind} line ${no}`,
      text,
      nul,
    );
  }
  const out: Line[] = [];
  let start = 0;
  let no = 1;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    let line = text.slice(start, end);
    if (line.endsWith('\r')) line = line.slice(0, -1);
    out.push({ text: line, no, offset: start });
    start = end + 1;
    no++;
  }
  return out;
}

function countLines(text: string, upTo: number): number {
  let n = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < upTo; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/**
 * Proxmox's `decode_text`: `%XX` escapes are bytes, the result is UTF-8. Descriptions are stored this way so
 * that a `#` comment line cannot hold a line break. Invalid UTF-8 becomes U+FFFD.
 */
export function decodeText(s: string): string {
  if (!s.includes('%')) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 && i + 2 < s.length && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
      continue;
    }
    // Copy the character (or surrogate pair) as UTF-8.
    const cp = s.codePointAt(i)!;
    if (cp > 0xffff) i++;
    for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) bytes.push(b);
  }
  return new TextDecoder('utf-8', { fatal: false }).decode(Uint8Array.from(bytes));
}
