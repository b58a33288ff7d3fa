/**
 * Reader for VMware `.vmx` virtual machine configurations.
 *
 * The format is one `key = "value"` per line. Keys are case-insensitive (VMware and libvirt both treat
 * `RemoteDisplay.maxConnections` and `REMOTEDISPLAY.MAXCONNECTIONS` as one key), so entries are stored under the
 * lowercased key; a key that appears twice keeps its last value, as VMware does. `#` starts a comment line.
 * Inside values VMware writes special characters as `|XX` (two hex digits of a byte: `|22` is `"`, `|7C` is
 * `|`, `|0A` a newline); runs of such bytes are decoded as UTF-8. Pure over its input: no I/O.
 */
import { HyperwardError } from '../../errors.js';
import type { ConfigEntry } from '../../model/host.js';
import type { VmxConfig } from '../../model/vmware.js';

/** A `.vmx` is a few KiB; guestinfo blobs make some tens of KiB. Anything past this is not a VM configuration. */
export const MAX_VMX_CHARS = 4 * 1024 * 1024;
/** Distinct keys kept per file. */
export const MAX_VMX_ENTRIES = 50_000;

const KEY = /^[^\s="#]+$/;

function fail(
  code: 'E_UNSUPPORTED_FORMAT' | 'E_LIMIT',
  message: string,
  file: string,
  line: number,
  offset: number,
) {
  return new HyperwardError(code, message, { file, layer: `vmx line ${line}`, offset });
}

/**
 * Decodes VMware's `|XX` escapes. Consecutive escaped bytes form one UTF-8 sequence; a `|` not followed by two
 * hex digits stays literal (VMware never writes one, but a hand-edited file may).
 */
export function decodeVmxValue(raw: string): string {
  if (!raw.includes('|')) return raw;
  let out = '';
  let bytes: number[] = [];
  const flush = (): void => {
    if (bytes.length > 0) {
      out += Buffer.from(bytes).toString('utf8');
      bytes = [];
    }
  };
  let i = 0;
  while (i < raw.length) {
    const c = raw[i]!;
    if (c === '|' && i + 2 < raw.length && /^[0-9A-Fa-f]{2}$/.test(raw.slice(i + 1, i + 3))) {
      bytes.push(parseInt(raw.slice(i + 1, i + 3), 16));
      i += 3;
      continue;
    }
    flush();
    out += c;
    i += 1;
  }
  flush();
  return out;
}

/**
 * Parses the text of a `.vmx` file. Throws `HyperwardError` E_UNSUPPORTED_FORMAT (binary data, a line that is
 * not `key = value`, an unterminated quote) or E_LIMIT (size caps), naming the file, the line and its offset.
 */
export function parseVmx(text: string, file: string): VmxConfig {
  if (text.length > MAX_VMX_CHARS) {
    throw new HyperwardError(
      'E_LIMIT',
      `${text.length} characters exceeds the ${MAX_VMX_CHARS}-character cap`,
      {
        file,
        layer: 'vmx',
      },
    );
  }
  const nul = text.indexOf('\u0000');
  if (nul >= 0) {
    throw new HyperwardError('E_UNSUPPORTED_FORMAT', 'binary data (NUL byte): not a .vmx text file', {
      file,
      layer: 'vmx',
      offset: nul,
    });
  }
  const entries = Object.create(null) as Record<string, ConfigEntry>;
  let count = 0;
  let name: string | undefined;
  let pos = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let lineNo = 0;
  while (pos <= text.length) {
    const nl = text.indexOf('\n', pos);
    const end = nl < 0 ? text.length : nl;
    lineNo += 1;
    const lineStart = pos;
    let line = text.slice(pos, end);
    pos = end + 1;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    const body = line.trimStart();
    if (body === '' || body.startsWith('#')) {
      if (nl < 0) break;
      continue;
    }
    const eq = body.indexOf('=');
    if (eq < 0) throw fail('E_UNSUPPORTED_FORMAT', 'not a `key = value` line', file, lineNo, lineStart);
    const key = body.slice(0, eq).trim();
    if (!KEY.test(key)) {
      throw fail(
        'E_UNSUPPORTED_FORMAT',
        `invalid key ${JSON.stringify(key.slice(0, 80))}`,
        file,
        lineNo,
        lineStart,
      );
    }
    const rest = body.slice(eq + 1).trimStart();
    let raw: string;
    if (rest.startsWith('"')) {
      const close = rest.indexOf('"', 1);
      if (close < 0) throw fail('E_UNSUPPORTED_FORMAT', 'unterminated quoted value', file, lineNo, lineStart);
      raw = rest.slice(1, close);
      const after = rest.slice(close + 1).trim();
      if (after !== '' && !after.startsWith('#')) {
        throw fail('E_UNSUPPORTED_FORMAT', 'text after the closing quote', file, lineNo, lineStart);
      }
    } else {
      // VMware always quotes; an unquoted value (hand-written) runs to a comment or the end of the line.
      const hash = rest.indexOf('#');
      raw = (hash < 0 ? rest : rest.slice(0, hash)).trim();
    }
    const lower = key.toLowerCase();
    if (!(lower in entries)) {
      count += 1;
      if (count > MAX_VMX_ENTRIES) {
        throw fail('E_LIMIT', `more than ${MAX_VMX_ENTRIES} distinct keys`, file, lineNo, lineStart);
      }
    }
    const value = decodeVmxValue(raw);
    entries[lower] = { key, value, file, line: lineNo };
    if (lower === 'displayname') name = value;
    if (nl < 0) break;
  }
  const cfg: VmxConfig = { file, entries };
  if (name !== undefined && name !== '') cfg.name = name;
  return cfg;
}

/** True when the text reads like a `.vmx` (a version or identity key in `key = "value"` form near the top). */
export function looksLikeVmx(text: string): boolean {
  const head = text.slice(0, 65536).split('\n', 2000);
  return head.some((l) =>
    /^\s*(config\.version|virtualhw\.version|displayname|guestos|\.encoding)\s*=\s*"/i.test(l),
  );
}
