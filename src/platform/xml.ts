/**
 * Safe XML for configuration readers. Input is assumed hostile: the size, depth and element count are capped, every
 * markup declaration (`<!DOCTYPE`, `<!ENTITY`, `<!ELEMENT`...) is refused so no entity is ever declared or expanded,
 * and only the five predefined entities and character references are decoded. Well-formedness is checked with
 * fast-xml-parser's validator, the tree is built by its parser with entity processing off, and the result is a plain
 * element tree with namespaces resolved and 1-based line numbers.
 */
import type * as Fxp from 'fast-xml-parser';
import { dependency } from '../dependency.js';
import { HyperwardError } from '../errors.js';

/**
 * fast-xml-parser, loaded on first use and as its one-file CommonJS build: its ESM build is dozens of modules
 * (~50 ms to load), which every `scan image` would pay at start-up for the rare OVF descriptor. `require` caches it.
 */
function fxp(): typeof Fxp {
  return dependency<typeof Fxp>('fast-xml-parser');
}

/** One element. Attribute and child order is kept; comments and processing instructions are dropped. */
export interface XmlElement {
  /** The name as written, prefix included: `qemu:commandline`. */
  name: string;
  /** The name without its prefix: `commandline`. */
  local: string;
  /** The namespace URI the element's prefix (or the default namespace) resolves to; '' for none. */
  ns: string;
  /** Attributes by name as written (`xmlns:qemu` included), values decoded. A prototype-less object. */
  attrs: Readonly<Record<string, string>>;
  children: XmlElement[];
  /** Text and CDATA directly inside this element, concatenated in order, decoded, not trimmed. */
  text: string;
  /** 1-based line of the start tag. */
  line: number;
}

export interface XmlLimits {
  /** Largest input accepted, in bytes for a buffer and in UTF-16 code units for a string. */
  maxBytes: number;
  /** Deepest element nesting accepted (the root is depth 1). */
  maxDepth: number;
  /** Most elements accepted in one document. */
  maxElements: number;
}

/** Generous defaults for configuration files; readers of small formats should pass tighter ones. */
export const DEFAULT_XML_LIMITS: Readonly<XmlLimits> = Object.freeze({
  maxBytes: 16 * 1024 * 1024,
  maxDepth: 128,
  maxElements: 500_000,
});

const XML_NS = 'http://www.w3.org/XML/1998/namespace';
const MAX_DEPTH_CEILING = 1024;

// Characters XML 1.0 forbids anywhere in a document: C0 controls other than tab/LF/CR, and U+FFFE/U+FFFF.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const FORBIDDEN_CHARS = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/;
// Unpaired UTF-16 surrogates (a string that cannot be valid Unicode text).
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const REFERENCE = /&(#x[0-9A-Fa-f]+|#[0-9]+|[A-Za-z_:][A-Za-z0-9._:-]*)?(;)?/g;
const PREDEFINED: ReadonlyMap<string, string> = new Map([
  ['lt', '<'],
  ['gt', '>'],
  ['amp', '&'],
  ['quot', '"'],
  ['apos', "'"],
]);

type RawNode = Record<string | symbol, unknown>;

/**
 * Parses one XML document and returns its root element.
 *
 * @param input the document, as text or as UTF-8 bytes (bytes are decoded strictly: invalid UTF-8 is an error)
 * @param file names the document in errors
 * @param limits caps overriding {@link DEFAULT_XML_LIMITS}
 * @throws HyperwardError `E_LIMIT` when a cap is exceeded, `E_UNSUPPORTED_FORMAT` when the input is not a
 *   well-formed, DTD-free XML document; the location names the file and, where known, the line.
 */
export function parseXml(
  input: string | Uint8Array,
  file: string,
  limits: Partial<XmlLimits> = {},
): XmlElement {
  const lim: XmlLimits = { ...DEFAULT_XML_LIMITS, ...limits };
  // The tree is built recursively: whatever a caller asks for, depth stays far below the stack's reach.
  lim.maxDepth = Math.max(1, Math.min(lim.maxDepth, MAX_DEPTH_CEILING));
  let text: string;
  if (typeof input === 'string') {
    if (input.length > lim.maxBytes) {
      throw new HyperwardError(
        'E_LIMIT',
        `XML document of ${input.length} characters exceeds the ${lim.maxBytes} cap`,
        {
          file,
          layer: 'XML',
        },
      );
    }
    text = input;
  } else {
    if (input.byteLength > lim.maxBytes) {
      throw new HyperwardError(
        'E_LIMIT',
        `XML document of ${input.byteLength} bytes exceeds the ${lim.maxBytes} cap`,
        {
          file,
          layer: 'XML',
        },
      );
    }
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(input);
    } catch {
      throw new HyperwardError('E_UNSUPPORTED_FORMAT', 'not UTF-8 text (binary data or another encoding)', {
        file,
        layer: 'XML',
      });
    }
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return new Parse(text, file, lim).run();
}

/** The first child element with this local name (and namespace, default: none). */
export function childElement(el: XmlElement, local: string, ns = ''): XmlElement | undefined {
  for (const c of el.children) if (c.local === local && c.ns === ns) return c;
  return undefined;
}

/** Every child element with this local name (and namespace, default: none). */
export function childElements(el: XmlElement, local: string, ns = ''): XmlElement[] {
  return el.children.filter((c) => c.local === local && c.ns === ns);
}

/** An attribute's value, or undefined when absent. Safe for any name (the map has no prototype). */
export function attr(el: XmlElement, name: string): string | undefined {
  return el.attrs[name];
}

class Parse {
  private readonly text: string;
  private readonly file: string;
  private readonly lim: XmlLimits;
  private readonly meta: symbol;
  private lineStarts: number[] | undefined;
  private elements = 0;

  constructor(text: string, file: string, lim: XmlLimits) {
    this.text = text;
    this.file = file;
    this.lim = lim;
    this.meta = fxp().XMLParser.getMetaDataSymbol() as unknown as symbol;
  }

  run(): XmlElement {
    this.screen();
    const v = fxp().XMLValidator.validate(this.text, { allowBooleanAttributes: false });
    if (v !== true) {
      const line = Number.isSafeInteger(v.err.line) ? v.err.line : undefined;
      throw this.error('E_UNSUPPORTED_FORMAT', `not well-formed XML: ${v.err.msg}`, line, v.err.col);
    }
    let raw: unknown;
    try {
      raw = new (fxp().XMLParser)({
        preserveOrder: true,
        ignoreAttributes: false,
        attributeNamePrefix: '',
        allowBooleanAttributes: false,
        parseTagValue: false,
        parseAttributeValue: false,
        trimValues: false,
        processEntities: false,
        htmlEntities: false,
        ignoreDeclaration: true,
        ignorePiTags: true,
        cdataPropName: '#cdata',
        commentPropName: false,
        captureMetaData: true,
        maxNestedTags: this.lim.maxDepth,
      }).parse(this.text);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      if (/nested tags/i.test(msg)) {
        throw this.error('E_LIMIT', `elements nest deeper than ${this.lim.maxDepth}`);
      }
      throw this.error('E_UNSUPPORTED_FORMAT', `not well-formed XML: ${msg.slice(0, 200)}`);
    }
    if (!Array.isArray(raw)) throw this.error('E_UNSUPPORTED_FORMAT', 'no root element');
    let root: XmlElement | undefined;
    for (const item of raw) {
      if (!isRecord(item)) continue;
      const name = elementName(item);
      if (name === undefined) continue;
      if (root !== undefined) throw this.error('E_UNSUPPORTED_FORMAT', 'more than one root element');
      root = this.convert(item, name, 1, new Map([['xml', XML_NS]]));
    }
    if (root === undefined) throw this.error('E_UNSUPPORTED_FORMAT', 'no root element');
    return root;
  }

  /** Linear pre-checks the validator does not make: forbidden characters and any markup declaration. */
  private screen(): void {
    const t = this.text;
    const bad = FORBIDDEN_CHARS.exec(t);
    if (bad) {
      throw this.error(
        'E_UNSUPPORTED_FORMAT',
        `character U+${bad[0].charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()} is not allowed in XML (binary data?)`,
        this.lineAt(bad.index),
      );
    }
    const lone = LONE_SURROGATE.exec(t);
    if (lone) throw this.error('E_UNSUPPORTED_FORMAT', 'unpaired UTF-16 surrogate', this.lineAt(lone.index));
    let i = t.indexOf('<!');
    while (i !== -1) {
      if (t.startsWith('<!--', i)) {
        const end = t.indexOf('-->', i + 4);
        if (end === -1) throw this.error('E_UNSUPPORTED_FORMAT', 'comment is not closed', this.lineAt(i));
        i = t.indexOf('<!', end + 3);
      } else if (t.startsWith('<![CDATA[', i)) {
        const end = t.indexOf(']]>', i + 9);
        if (end === -1)
          throw this.error('E_UNSUPPORTED_FORMAT', 'CDATA section is not closed', this.lineAt(i));
        i = t.indexOf('<!', end + 3);
      } else {
        const what = /^<!([A-Za-z]*)/.exec(t.slice(i, i + 12))?.[1] ?? '';
        throw this.error(
          'E_UNSUPPORTED_FORMAT',
          `markup declaration <!${what}> refused: DTDs and entity declarations are never processed`,
          this.lineAt(i),
        );
      }
    }
  }

  private convert(
    node: RawNode,
    name: string,
    depth: number,
    scope: ReadonlyMap<string, string>,
  ): XmlElement {
    if (depth > this.lim.maxDepth)
      throw this.error('E_LIMIT', `elements nest deeper than ${this.lim.maxDepth}`);
    if (++this.elements > this.lim.maxElements) {
      throw this.error('E_LIMIT', `more than ${this.lim.maxElements} elements`);
    }
    const metaRaw: unknown = node[this.meta];
    const start =
      isRecord(metaRaw) && typeof metaRaw.startIndex === 'number' ? metaRaw.startIndex : undefined;
    const line = start === undefined ? 0 : this.lineAt(start);

    const attrs: Record<string, string> = Object.create(null) as Record<string, string>;
    const rawAttrs = node[':@'];
    let nsScope = scope;
    if (isRecord(rawAttrs)) {
      for (const [k, v] of Object.entries(rawAttrs)) {
        if (typeof v !== 'string') continue;
        if (v.includes('<'))
          throw this.error('E_UNSUPPORTED_FORMAT', `'<' in the value of attribute ${k}`, line);
        const value = v.includes('&') ? this.decode(v, line) : v;
        attrs[k] = value;
        if (k === 'xmlns' || k.startsWith('xmlns:')) {
          if (nsScope === scope) nsScope = new Map(scope);
          (nsScope as Map<string, string>).set(k === 'xmlns' ? '' : k.slice(6), value);
        }
      }
    }
    const colon = name.indexOf(':');
    const prefix = colon === -1 ? '' : name.slice(0, colon);
    const local = colon === -1 ? name : name.slice(colon + 1);
    const ns = nsScope.get(prefix) ?? '';

    const el: XmlElement = { name, local, ns, attrs, children: [], text: '', line };
    const content = node[name];
    if (Array.isArray(content)) {
      let text = '';
      for (const item of content) {
        if (!isRecord(item)) continue;
        if ('#text' in item) {
          const t = item['#text'];
          if (typeof t === 'string') text += t.includes('&') ? this.decode(t, line) : t;
          continue;
        }
        if ('#cdata' in item) {
          const c = item['#cdata'];
          if (Array.isArray(c)) {
            for (const part of c)
              if (isRecord(part) && typeof part['#text'] === 'string') text += part['#text'];
          }
          continue;
        }
        const childName = elementName(item);
        if (childName !== undefined) el.children.push(this.convert(item, childName, depth + 1, nsScope));
      }
      el.text = text;
    }
    return el;
  }

  /** Decodes the predefined entities and character references; anything else is an undeclared entity. */
  private decode(s: string, line: number): string {
    return s.replace(REFERENCE, (whole, ref: string | undefined, semi: string | undefined) => {
      if (ref === undefined || semi === undefined) {
        throw this.error(
          'E_UNSUPPORTED_FORMAT',
          `'&' that does not start a reference (${whole.slice(0, 20)})`,
          line,
        );
      }
      if (ref.startsWith('#')) {
        const code = ref[1] === 'x' ? Number.parseInt(ref.slice(2), 16) : Number.parseInt(ref.slice(1), 10);
        const ok =
          Number.isSafeInteger(code) &&
          (code === 0x9 ||
            code === 0xa ||
            code === 0xd ||
            (code >= 0x20 && code <= 0xd7ff) ||
            (code >= 0xe000 && code <= 0xfffd) ||
            (code >= 0x10000 && code <= 0x10ffff));
        if (!ok)
          throw this.error(
            'E_UNSUPPORTED_FORMAT',
            `character reference &${ref.slice(0, 12)}; is not allowed`,
            line,
          );
        return String.fromCodePoint(code);
      }
      const v = PREDEFINED.get(ref);
      if (v === undefined) {
        throw this.error(
          'E_UNSUPPORTED_FORMAT',
          `undeclared entity &${ref.slice(0, 40)}; (entities are never expanded)`,
          line,
        );
      }
      return v;
    });
  }

  private lineAt(index: number): number {
    if (this.lineStarts === undefined) {
      const starts = [0];
      const t = this.text;
      for (let i = t.indexOf('\n'); i !== -1; i = t.indexOf('\n', i + 1)) starts.push(i + 1);
      this.lineStarts = starts;
    }
    const s = this.lineStarts;
    let lo = 0;
    let hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (s[mid]! <= index) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  }

  private error(
    code: 'E_LIMIT' | 'E_UNSUPPORTED_FORMAT',
    message: string,
    line?: number,
    col?: number,
  ): HyperwardError {
    const layer =
      line === undefined ? 'XML' : col === undefined ? `XML line ${line}` : `XML line ${line}, column ${col}`;
    return new HyperwardError(code, message, { file: this.file, layer });
  }
}

function isRecord(v: unknown): v is RawNode {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The element name of a preserveOrder node: its one key that is not `:@`, `#text` or `#cdata`. */
function elementName(node: RawNode): string | undefined {
  for (const k of Object.keys(node)) {
    if (k !== ':@' && k !== '#text' && k !== '#cdata') return k;
  }
  return undefined;
}
