/**
 * A strict JSON parser for headers and indexes. `JSON.parse` is unfit for hostile headers: it
 * keeps the last of two duplicate keys (so two readers of one file can see different tensors),
 * silently rounds integers above 2^53 (an offset could alias another tensor), accepts lone
 * surrogates, and recurses without a depth limit. This parser refuses all of those and keeps
 * enough about each number to tell `1` from `1.0` from `18446744073709551616`.
 */
import { MAX_JSON_DEPTH } from '../limits.js';

/** A number written with a fraction or an exponent (`1.0`, `1e3`): never a valid size or offset. */
export class JsonDecimal {
  constructor(
    readonly value: number,
    readonly text: string,
  ) {}
}

/**
 * Parsed JSON. Integer literals are `number` when they are safe integers and `bigint`
 * otherwise; other numbers are {@link JsonDecimal}; objects are `Map`s in document order.
 */
export type JsonValue = null | boolean | string | number | bigint | JsonDecimal | JsonValue[] | JsonObject;
export type JsonObject = Map<string, JsonValue>;

/** Why parsing stopped, and at which character of the text. */
export class JsonSyntaxError extends Error {
  constructor(
    readonly kind: 'syntax' | 'duplicate-key' | 'too-deep',
    message: string,
    /** Index into the parsed string (UTF-16 code units). */
    readonly position: number,
    /** For `duplicate-key`: the key. */
    readonly key?: string,
  ) {
    super(message);
    this.name = 'JsonSyntaxError';
  }
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);
const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};
const NUMBER_RE = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;

/**
 * Called for each member of a root object instead of keeping it: a header of a million tensors
 * is then never held as a million parsed maps at once. Duplicate keys are still refused.
 */
export type RootEntryHandler = (key: string, value: JsonValue) => void;

export function parseStrictJson(text: string, maxDepth: number = MAX_JSON_DEPTH, onRootEntry?: RootEntryHandler): JsonValue {
  let pos = 0;

  const fail: (message: string, at?: number) => never = (message, at = pos) => {
    throw new JsonSyntaxError('syntax', message, at);
  };
  const skipWs = () => {
    while (pos < text.length && WS.has(text.charCodeAt(pos))) pos++;
  };
  const expect = (literal: string) => {
    if (text.startsWith(literal, pos)) pos += literal.length;
    else fail(`expected ${JSON.stringify(literal)}`);
  };

  const parseString = (): string => {
    const start = pos;
    pos++; // opening quote
    let out = '';
    let runStart = pos;
    for (;;) {
      if (pos >= text.length) fail('unterminated string', start);
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        out += text.slice(runStart, pos);
        pos++;
        return out;
      }
      if (c < 0x20) fail('control character in string');
      if (c === 0x5c) {
        out += text.slice(runStart, pos);
        const e = text[pos + 1];
        if (e === undefined) fail('unterminated escape');
        if (e === 'u') {
          const unit = hex4(pos + 2);
          pos += 6;
          if (unit >= 0xd800 && unit <= 0xdbff) {
            // A high surrogate must be followed by an escaped low surrogate.
            if (text[pos] !== '\\' || text[pos + 1] !== 'u') fail('lone surrogate in \\u escape', pos - 6);
            const low = hex4(pos + 2);
            if (low < 0xdc00 || low > 0xdfff) fail('lone surrogate in \\u escape', pos - 6);
            pos += 6;
            out += String.fromCharCode(unit, low);
          } else if (unit >= 0xdc00 && unit <= 0xdfff) {
            fail('lone surrogate in \\u escape', pos - 6);
          } else {
            out += String.fromCharCode(unit);
          }
        } else {
          const s = SIMPLE_ESCAPES[e];
          if (s === undefined) fail(`invalid escape \\${e}`);
          out += s;
          pos += 2;
        }
        runStart = pos;
        continue;
      }
      pos++;
    }
  };

  const hex4 = (at: number): number => {
    const h = text.slice(at, at + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) fail('invalid \\u escape', at);
    return parseInt(h, 16);
  };

  const parseNumber = (): number | bigint | JsonDecimal => {
    NUMBER_RE.lastIndex = pos;
    const m = NUMBER_RE.exec(text);
    if (!m) return fail('invalid number');
    const literal = m[0];
    pos += literal.length;
    if (m[1] !== undefined || m[2] !== undefined) return new JsonDecimal(Number(literal), literal);
    const n = Number(literal);
    if (Number.isSafeInteger(n)) return n;
    return BigInt(literal);
  };

  const parseValue = (depth: number): JsonValue => {
    skipWs();
    const c = text[pos];
    if (c === '{' || c === '[') {
      if (depth >= maxDepth) throw new JsonSyntaxError('too-deep', `nesting deeper than ${maxDepth}`, pos);
      return c === '{' ? parseObject(depth + 1) : parseArray(depth + 1);
    }
    if (c === '"') return parseString();
    if (c === 't') return expect('true'), true;
    if (c === 'f') return expect('false'), false;
    if (c === 'n') return expect('null'), null;
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return parseNumber();
    return fail(c === undefined ? 'unexpected end of input' : `unexpected character ${JSON.stringify(c)}`);
  };

  // An array's or an object's members between its brackets (`pos` at the opening one):
  // `member` reads each, and a ',' or the closing bracket must follow it.
  const parseMembers = (close: ']' | '}', member: () => void): void => {
    pos++;
    skipWs();
    if (text[pos] === close) {
      pos++;
      return;
    }
    for (;;) {
      member();
      skipWs();
      const c = text[pos];
      if (c === ',') pos++;
      else if (c === close) {
        pos++;
        return;
      } else fail(`expected ',' or '${close}'`);
    }
  };

  const parseArray = (depth: number): JsonValue[] => {
    const out: JsonValue[] = [];
    parseMembers(']', () => out.push(parseValue(depth)));
    return out;
  };

  const parseObject = (depth: number): JsonObject => {
    const out: JsonObject = new Map();
    // The root object's members go to the handler; only their keys are kept, to find duplicates.
    const streamed = depth === 1 && onRootEntry !== undefined ? new Set<string>() : undefined;
    parseMembers('}', () => {
      skipWs();
      if (text[pos] !== '"') fail('expected a string key');
      const keyAt = pos;
      const key = parseString();
      if (streamed !== undefined ? streamed.has(key) : out.has(key)) {
        throw new JsonSyntaxError('duplicate-key', `duplicate key ${JSON.stringify(key)}`, keyAt, key);
      }
      skipWs();
      if (text[pos] !== ':') fail("expected ':'");
      pos++;
      if (streamed !== undefined) {
        streamed.add(key);
        onRootEntry!(key, parseValue(depth));
      } else out.set(key, parseValue(depth));
    });
    return out;
  };

  const value = parseValue(0);
  skipWs();
  if (pos !== text.length) fail('unexpected data after the JSON value');
  return value;
}

export function isJsonObject(v: JsonValue | undefined): v is JsonObject {
  return v instanceof Map;
}
