/**
 * libvirt's configuration file format, as read by src/util/virconf.c for qemu.conf, libvirtd.conf,
 * virtqemud.conf, virtproxyd.conf and the other daemon files:
 *
 *   name = value          # a trailing comment
 *   name = "string"; other = 'string'; text = """spans
 *   lines"""
 *   number = -12
 *   list = [ "a",
 *            "b", ]       # lists may span lines; a trailing comma is allowed
 *
 * Names start with an ASCII letter and go on with letters, digits and `_`. Strings have no escapes and (except
 * triple-quoted ones) end on the same line. Statements end at a newline or `;`. `#` starts a comment, on a line
 * of its own or after a value, but not inside a list. libvirt rejects the whole file on any syntax error and the
 * daemon does not start, so this parser does the same: it throws a HyperwardError naming the file and line.
 * When a key is assigned twice libvirt uses the first assignment.
 *
 * Hostile input: the text is capped in size, entries and list items are counted, list nesting is bounded, and
 * numbers are capped in length; every loop advances through the text. Nothing but HyperwardError escapes.
 */
import { HyperwardError } from '../../errors.js';
import type {
  LibvirtConf,
  LibvirtConfEntry,
  LibvirtConfItem,
  LibvirtConfValueType,
} from '../../model/kvm.js';

/** libvirt refuses configuration files over 10 MiB (MAX_CONFIG_FILE_SIZE in virconf.c); so do we. */
export const MAX_CONF_BYTES = 10 * 1024 * 1024;
const MAX_ENTRIES = 100_000;
const MAX_ITEMS = 1_000_000;
const MAX_DEPTH = 32;
const MAX_DIGITS = 40;

interface Value {
  type: LibvirtConfValueType;
  /** Text form: the string, the decimal number, or `[...]` for lists. */
  text: string;
  negative?: boolean;
  items?: Value[];
}

const isBlank = (c: number): boolean => c === 0x20 || c === 0x09;
const isEol = (c: number): boolean => c === 0x0a || c === 0x0d;
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isAlpha = (c: number): boolean => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);

class Parser {
  private pos = 0;
  private line = 1;
  private items = 0;
  private readonly end: number;

  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {
    this.end = text.length;
  }

  private fail(message: string, code: 'E_UNSUPPORTED_FORMAT' | 'E_LIMIT' = 'E_UNSUPPORTED_FORMAT'): never {
    throw new HyperwardError(code, message, {
      file: this.file,
      layer: `libvirt configuration, line ${this.line}`,
      offset: this.pos,
    });
  }

  private cur(): number {
    return this.pos < this.end ? this.text.charCodeAt(this.pos) : -1;
  }

  private skipBlanks(): void {
    while (this.pos < this.end && isBlank(this.text.charCodeAt(this.pos))) this.pos++;
  }

  private skipBlanksAndEol(): void {
    while (this.pos < this.end) {
      const c = this.text.charCodeAt(this.pos);
      if (!isBlank(c) && !isEol(c)) break;
      if (c === 0x0a) this.line++;
      this.pos++;
    }
  }

  private toEol(): void {
    while (this.pos < this.end && !isEol(this.text.charCodeAt(this.pos))) this.pos++;
  }

  parse(): { entries: Map<string, LibvirtConfEntry>; duplicates: string[] } {
    const entries = new Map<string, LibvirtConfEntry>();
    const duplicates = new Set<string>();
    let count = 0;
    while (this.pos < this.end) {
      this.skipBlanksAndEol();
      // libvirt rejects a file that ends in blank space after its last statement only in one corner (a file of
      // nothing but blanks); accepting it changes no setting.
      if (this.pos >= this.end) break;
      if (this.cur() === 0x23 /* # */) {
        this.toEol();
      } else {
        const line = this.line;
        const name = this.parseName();
        this.skipBlanks();
        if (this.cur() !== 0x3d /* = */) this.fail(`expecting '=' after ${JSON.stringify(name)}`);
        this.pos++;
        this.skipBlanks();
        const value = this.parseValue(0);
        this.skipBlanks();
        if (this.cur() === 0x23) this.toEol();
        if (++count > MAX_ENTRIES) this.fail(`more than ${MAX_ENTRIES} settings`, 'E_LIMIT');
        if (entries.has(name)) duplicates.add(name);
        else entries.set(name, toEntry(name, value, this.file, line));
      }
      this.parseSeparator();
    }
    return { entries, duplicates: [...duplicates] };
  }

  private parseSeparator(): void {
    this.skipBlanks();
    if (this.pos >= this.end) return;
    const c = this.cur();
    if (isEol(c)) {
      this.skipBlanksAndEol();
    } else if (c === 0x3b /* ; */) {
      this.pos++;
      this.skipBlanksAndEol();
    } else {
      this.fail('expecting a newline or ";" after the value');
    }
  }

  private parseName(): string {
    const start = this.pos;
    if (!isAlpha(this.cur())) this.fail('expecting a setting name');
    while (this.pos < this.end) {
      const c = this.text.charCodeAt(this.pos);
      if (!isAlpha(c) && !isDigit(c) && c !== 0x5f /* _ */) break;
      this.pos++;
    }
    return this.text.slice(start, this.pos);
  }

  private parseValue(depth: number): Value {
    this.skipBlanks();
    if (this.pos >= this.end) this.fail('expecting a value');
    if (++this.items > MAX_ITEMS) this.fail(`more than ${MAX_ITEMS} values`, 'E_LIMIT');
    const c = this.cur();
    if (c === 0x27 /* ' */ || c === 0x22 /* " */) return { type: 'string', text: this.parseString() };
    if (c === 0x5b /* [ */) return this.parseList(depth);
    if (isDigit(c) || c === 0x2d /* - */ || c === 0x2b /* + */) return this.parseNumber();
    return this.fail('expecting a value (a quoted string, a number or a [list])');
  }

  private parseString(): string {
    const quote = this.cur();
    // Python-style triple quotes, checked the way virconf.c does (only for double quotes, and only when the
    // text has room for an opening and a closing triple).
    if (quote === 0x22 && this.pos + 6 < this.end && this.text.startsWith('"""', this.pos)) {
      this.pos += 3;
      const start = this.pos;
      const close = this.text.indexOf('"""', start);
      if (close < 0) {
        this.pos = this.end;
        this.fail('unterminated """ string');
      }
      for (let i = start; i < close; i++) if (this.text.charCodeAt(i) === 0x0a) this.line++;
      this.pos = close + 3;
      return this.text.slice(start, close);
    }
    this.pos++;
    const start = this.pos;
    while (this.pos < this.end) {
      const ch = this.text.charCodeAt(this.pos);
      if (ch === quote || isEol(ch)) break;
      this.pos++;
    }
    if (this.cur() !== quote) this.fail('unterminated string (strings end on the line they start)');
    const s = this.text.slice(start, this.pos);
    this.pos++;
    return s;
  }

  private parseNumber(): Value {
    let negative = false;
    const c = this.cur();
    if (c === 0x2d || c === 0x2b) {
      negative = c === 0x2d;
      this.pos++;
    }
    if (!isDigit(this.cur())) this.fail('unterminated number');
    const start = this.pos;
    while (this.pos < this.end && isDigit(this.text.charCodeAt(this.pos))) this.pos++;
    const digits = this.text.slice(start, this.pos);
    if (digits.length > MAX_DIGITS) this.fail(`number of more than ${MAX_DIGITS} digits`, 'E_LIMIT');
    const n = BigInt(digits);
    const text = (negative && n !== 0n ? '-' : '') + n.toString();
    return negative ? { type: 'integer', text, negative: true } : { type: 'integer', text };
  }

  private parseList(depth: number): Value {
    if (depth >= MAX_DEPTH) this.fail(`lists nested more than ${MAX_DEPTH} deep`, 'E_LIMIT');
    this.pos++; // [
    this.skipBlanksAndEol();
    const items: Value[] = [];
    if (this.pos < this.end && this.cur() !== 0x5d /* ] */) {
      items.push(this.parseValue(depth + 1));
      this.skipBlanksAndEol();
    }
    while (this.pos < this.end && this.cur() !== 0x5d) {
      if (this.cur() !== 0x2c /* , */)
        this.fail('expecting "," between list items (comments are not allowed in lists)');
      this.pos++;
      this.skipBlanksAndEol();
      if (this.cur() === 0x5d) break;
      items.push(this.parseValue(depth + 1));
      this.skipBlanksAndEol();
    }
    if (this.cur() !== 0x5d) this.fail('list is not closed with ]');
    this.pos++;
    return { type: 'list', text: listText(items), items };
  }
}

function listText(items: readonly Value[]): string {
  return `[${items.map((i) => (i.type === 'string' ? JSON.stringify(i.text) : i.text)).join(', ')}]`;
}

function toEntry(key: string, v: Value, file: string, line: number): LibvirtConfEntry {
  const e: LibvirtConfEntry = { key, value: v.text, file, line, type: v.type };
  if (v.negative) e.negative = true;
  if (v.items) e.items = v.items.map((i): LibvirtConfItem => ({ type: i.type, value: i.text }));
  return e;
}

/**
 * Parses the text of a libvirt configuration file. Throws a HyperwardError (E_UNSUPPORTED_FORMAT with the line,
 * or E_LIMIT) on anything libvirt would reject or on input beyond the caps.
 */
export function parseLibvirtConf(text: string, file: string): LibvirtConf {
  if (text.length > MAX_CONF_BYTES) {
    throw new HyperwardError('E_LIMIT', `larger than ${MAX_CONF_BYTES} bytes`, {
      file,
      layer: 'libvirt configuration',
    });
  }
  const { entries, duplicates } = new Parser(text, file).parse();
  // A prototype-free record: keys such as `__proto__` or `constructor` are ordinary setting names here.
  const record = Object.create(null) as Record<string, LibvirtConfEntry>;
  for (const [k, v] of entries) record[k] = v;
  return { path: file, entries: record, duplicates };
}

/** Parses a file's bytes (UTF-8; libvirt treats them as bytes, and only ASCII is significant to the syntax). */
export function parseLibvirtConfBuffer(buf: Buffer, file: string): LibvirtConf {
  if (buf.length > MAX_CONF_BYTES) {
    throw new HyperwardError('E_LIMIT', `larger than ${MAX_CONF_BYTES} bytes`, {
      file,
      layer: 'libvirt configuration',
    });
  }
  return parseLibvirtConf(buf.toString('utf8'), file);
}

/** A setting's value read as libvirt reads a boolean (virConfGetValueBool): an unsigned integer, 0 or 1. */
export function confBool(e: LibvirtConfEntry): boolean | undefined {
  if (e.type !== 'integer' || e.negative) return undefined;
  if (e.value === '0') return false;
  if (e.value === '1') return true;
  return undefined;
}

/** A setting's value read as libvirt reads a string list (virConfGetValueStringList); `compatString` accepts a lone string. */
export function confStringList(e: LibvirtConfEntry, compatString: boolean): string[] | undefined {
  if (e.type === 'string') return compatString ? [e.value] : undefined;
  if (e.type !== 'list' || !e.items) return undefined;
  if (e.items.some((i) => i.type !== 'string')) return undefined;
  return e.items.map((i) => i.value);
}

/** A setting's value read as a signed int (virConfGetValueInt). */
export function confInt(e: LibvirtConfEntry): number | undefined {
  if (e.type !== 'integer') return undefined;
  const n = Number(e.value);
  return Number.isSafeInteger(n) && n >= -2147483648 && n <= 2147483647 ? n : undefined;
}
