/**
 * The LVM2 text metadata format: the small configuration language LVM writes volume-group metadata in (the same
 * as `lvm.conf`). A document is a list of `key = value` settings and `name { ... }` sections; values are
 * integers, floats, strings (double-quoted with `\"` and `\\` escapes, single-quoted, or bare words) or flat
 * arrays `[v, v, ...]`; `#` starts a comment that runs to the end of the line. A one-element array and a scalar
 * are the same thing to LVM; {@link asList} reads either as a list.
 *
 * Hostile input: the text, each string, each array, the nesting depth and the node count are capped, integers
 * must be safe JavaScript integers, and every syntax error is a HyperwardError E_CONFIG_SYNTAX naming the line.
 */
import { HyperwardError } from '../../errors.js';

export type ConfigScalar = number | string;
export type ConfigValue = ConfigScalar | ConfigScalar[];

/** A `name { ... }` section (the document itself is the unnamed top section), children in file order. */
export interface ConfigSection {
  name: string;
  line: number;
  settings: Array<{ key: string; value: ConfigValue; line: number }>;
  sections: ConfigSection[];
}

export interface ConfigLimits {
  maxBytes: number;
  maxDepth: number;
  maxNodes: number;
  maxString: number;
  maxArray: number;
}

export const DEFAULT_CONFIG_LIMITS: Readonly<ConfigLimits> = Object.freeze({
  maxBytes: 16 * 1024 * 1024,
  maxDepth: 16,
  maxNodes: 1_000_000,
  maxString: 64 * 1024,
  maxArray: 100_000,
});

type Token =
  | { kind: 'word'; text: string; line: number }
  | { kind: 'string'; text: string; line: number }
  | { kind: 'number'; value: number; line: number }
  | { kind: 'punct'; text: '=' | '{' | '}' | '[' | ']' | ','; line: number }
  | { kind: 'eof'; line: number };

const isSpace = (c: string): boolean =>
  c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\v' || c === '\f';
const isDigit = (c: string): boolean => c >= '0' && c <= '9';
/** Characters that end a bare word, as in LVM's lexer (whitespace ends it too). */
const WORD_END = '#={}';

/**
 * The tokenizer of LVM's config language, following libdevmapper's: what a token is depends on whether a value
 * is expected (`1.5` is a number after `=` but a bare word as a key), bare words end only at whitespace, `#`,
 * `=`, `{` and `}`, double-quoted strings unescape only `\"` and `\\`, single-quoted strings have no escapes.
 */
class Lexer {
  private pos = 0;
  line = 1;

  constructor(
    private readonly text: string,
    private readonly limits: ConfigLimits,
    private readonly err: (msg: string, line: number) => HyperwardError,
  ) {}

  /** The next token; `value` says a value may start here (numbers are lexed only then). */
  next(value: boolean): Token {
    const s = this.text;
    for (;;) {
      if (this.pos >= s.length) return { kind: 'eof', line: this.line };
      const c = s[this.pos]!;
      if (c === '\n') {
        this.line++;
        this.pos++;
      } else if (isSpace(c)) {
        this.pos++;
      } else if (c === '#') {
        const nl = s.indexOf('\n', this.pos);
        this.pos = nl < 0 ? s.length : nl;
      } else {
        break;
      }
    }
    const line = this.line;
    const ch = s[this.pos]!;
    if (ch === '=' || ch === '{' || ch === '}' || ch === '[' || ch === ']' || ch === ',') {
      this.pos++;
      return { kind: 'punct', text: ch, line };
    }
    if (ch === '"' || ch === "'") return this.string(ch, line);
    if (value && (isDigit(ch) || ch === '.' || ch === '+' || ch === '-')) return this.number(line);
    const start = this.pos;
    while (this.pos < s.length && !isSpace(s[this.pos]!) && !WORD_END.includes(s[this.pos]!)) {
      if (this.pos - start >= this.limits.maxString) throw this.err('word is too long', line);
      this.pos++;
    }
    return { kind: 'word', text: s.slice(start, this.pos), line };
  }

  /** An optional sign, then digits with at most one `.`; a lone sign is 0, as for LVM. */
  private number(line: number): Token {
    const s = this.text;
    const start = this.pos;
    this.pos++;
    let float = s[start] === '.';
    while (this.pos < s.length) {
      const c = s[this.pos]!;
      if (c === '.') {
        if (float) break;
        float = true;
      } else if (!isDigit(c)) {
        break;
      }
      if (this.pos - start >= this.limits.maxString) throw this.err('number is too long', line);
      this.pos++;
    }
    let text = s.slice(start, this.pos);
    if (text === '+' || text === '-') text = '0';
    if (float) {
      const v = Number(text === '.' || text === '+.' || text === '-.' ? '0' : text);
      return { kind: 'number', value: v, line };
    }
    const v = Number(text);
    if (!Number.isSafeInteger(v)) throw this.err(`integer ${text} is out of range`, line);
    return { kind: 'number', value: v, line };
  }

  private string(quote: string, line: number): Token {
    const s = this.text;
    this.pos++;
    let out = '';
    let from = this.pos;
    for (;;) {
      if (this.pos >= s.length) throw this.err('unterminated string', line);
      const ch = s[this.pos]!;
      if (ch === quote) break;
      if (ch === '\n') this.line++;
      if (ch === '\\' && quote === '"') {
        const nextCh = s[this.pos + 1];
        if (nextCh === undefined) throw this.err('unterminated string', line);
        if (nextCh === '\n') this.line++;
        if (nextCh === '"' || nextCh === '\\') {
          out += s.slice(from, this.pos) + nextCh;
          from = this.pos + 2;
        }
        this.pos += 2;
      } else {
        this.pos++;
      }
      if (out.length + (this.pos - from) > this.limits.maxString) throw this.err('string is too long', line);
    }
    out += s.slice(from, this.pos);
    this.pos++;
    return { kind: 'string', text: out, line };
  }
}

/**
 * Parses LVM text metadata into a section tree. `file` names the device in errors.
 *
 * @example
 * const doc = parseLvmConfig('vg0 {\nseqno = 3\nstatus = ["READ"]\n}\n', '/dev/sda2');
 * doc.sections[0]!.name === 'vg0'
 */
export function parseLvmConfig(
  text: string,
  file: string,
  limits: ConfigLimits = DEFAULT_CONFIG_LIMITS,
): ConfigSection {
  const layer = 'LVM text metadata';
  const err = (message: string, line: number): HyperwardError =>
    new HyperwardError('E_CONFIG_SYNTAX', message, { file, layer, line });
  if (text.length > limits.maxBytes) {
    throw new HyperwardError(
      'E_LIMIT',
      `metadata of ${text.length} bytes is larger than ${limits.maxBytes}`,
      {
        file,
        layer,
      },
    );
  }
  const lex = new Lexer(text, limits, err);
  let tok = lex.next(false);
  let nodes = 0;
  /** Moves to the next token; `value` when a value may start there. */
  const advance = (value = false): void => {
    tok = lex.next(value);
  };
  const count = (line: number): void => {
    if (++nodes > limits.maxNodes) {
      throw new HyperwardError('E_LIMIT', `metadata has more than ${limits.maxNodes} nodes`, {
        file,
        layer,
        line,
      });
    }
  };
  const scalar = (): ConfigScalar => {
    const t = tok;
    if (t.kind === 'string' || t.kind === 'word') {
      advance();
      return t.text;
    }
    if (t.kind === 'number') {
      advance();
      return t.value;
    }
    throw err('expected a value', t.line);
  };
  const value = (): ConfigValue => {
    const t = tok;
    if (t.kind !== 'punct' || t.text !== '[') return scalar();
    advance(true);
    const arr: ConfigScalar[] = [];
    for (;;) {
      const u = tok;
      if (u.kind === 'punct' && u.text === ']') {
        advance();
        return arr;
      }
      if (arr.length > 0) {
        if (u.kind !== 'punct' || u.text !== ',') throw err('expected "," or "]" in array', u.line);
        advance(true);
        const w = tok;
        // A trailing comma before "]" is accepted, as LVM's own parser does.
        if (w.kind === 'punct' && w.text === ']') continue;
      }
      if (arr.length >= limits.maxArray) {
        throw new HyperwardError('E_LIMIT', `array has more than ${limits.maxArray} elements`, {
          file,
          layer,
          line: u.line,
        });
      }
      count(tok.line);
      arr.push(scalar());
    }
  };
  const body = (sec: ConfigSection, depth: number, closing: boolean): void => {
    for (;;) {
      const t = tok;
      if (t.kind === 'eof') {
        if (closing) throw err(`section "${sec.name}" (line ${sec.line}) is not closed`, t.line);
        return;
      }
      if (t.kind === 'punct' && t.text === '}') {
        if (!closing) throw err('unexpected "}"', t.line);
        advance();
        return;
      }
      if (t.kind !== 'word' && t.kind !== 'string') throw err('expected a name', t.line);
      advance();
      count(t.line);
      const op = tok;
      if (op.kind === 'punct' && op.text === '=') {
        advance(true);
        sec.settings.push({ key: t.text, value: value(), line: t.line });
      } else if (op.kind === 'punct' && op.text === '{') {
        if (depth + 1 > limits.maxDepth) {
          throw new HyperwardError('E_LIMIT', `sections nested deeper than ${limits.maxDepth}`, {
            file,
            layer,
            line: op.line,
          });
        }
        advance();
        const child: ConfigSection = { name: t.text, line: t.line, settings: [], sections: [] };
        body(child, depth + 1, true);
        sec.sections.push(child);
      } else {
        throw err(`expected "=" or "{" after "${t.text}"`, op.line);
      }
    }
  };
  const root: ConfigSection = { name: '', line: 1, settings: [], sections: [] };
  body(root, 0, false);
  return root;
}

/** The first setting named `key` in `sec`, or undefined. */
export function setting(sec: ConfigSection, key: string): ConfigValue | undefined {
  return sec.settings.find((s) => s.key === key)?.value;
}

/** The first subsection named `name` in `sec`, or undefined. */
export function section(sec: ConfigSection, name: string): ConfigSection | undefined {
  return sec.sections.find((s) => s.name === name);
}

/** A value as a list: an array as it is, a scalar as a one-element list (LVM does not tell them apart). */
export function asList(v: ConfigValue): ConfigScalar[] {
  return Array.isArray(v) ? v : [v];
}
