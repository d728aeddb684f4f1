import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JsonDecimal, JsonSyntaxError, parseStrictJson, type JsonValue } from './strict-json.js';

/** Back to plain JS values, for comparison with JSON.parse. */
function plain(v: JsonValue): unknown {
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [k, plain(x)]));
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof JsonDecimal) return v.value;
  if (typeof v === 'bigint') return Number(v);
  return v;
}

describe('parseStrictJson', () => {
  it('agrees with JSON.parse on any JSON without duplicate keys', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        const text = JSON.stringify(value);
        expect(plain(parseStrictJson(text))).toEqual(JSON.parse(text));
      }),
      { numRuns: 300 },
    );
  });

  it('keeps objects in document order, with __proto__ as an ordinary key', () => {
    const v = parseStrictJson('{"b":1,"__proto__":{"x":2},"a":3}') as Map<string, JsonValue>;
    expect([...v.keys()]).toEqual(['b', '__proto__', 'a']);
    expect(({} as Record<string, unknown>)['x']).toBeUndefined();
  });

  it('tells safe integers, big integers and decimals apart', () => {
    expect(parseStrictJson('[9007199254740991, 9007199254740992, 1.0, 1e3, -5]')).toEqual([
      9007199254740991,
      9007199254740992n,
      new JsonDecimal(1, '1.0'),
      new JsonDecimal(1000, '1e3'),
      -5,
    ]);
  });

  it('decodes escapes including surrogate pairs', () => {
    expect(parseStrictJson('"a\\n\\t\\"\\\\\\/\\u00e9\\ud83d\\ude00"')).toBe('a\n\t"\\/é😀');
  });

  it.each([
    ['{"a":1,"a":2}', 'duplicate-key'],
    ['{"a":1,"\\u0061":2}', 'duplicate-key'],
    ['"\\ud800"', 'syntax'],
    ['"\\udc00x"', 'syntax'],
    ['"\\ud800\\u0041"', 'syntax'],
    ['[1,]', 'syntax'],
    ['{"a" 1}', 'syntax'],
    ['01', 'syntax'],
    ['1.', 'syntax'],
    ['-', 'syntax'],
    ['tru', 'syntax'],
    ['"abc', 'syntax'],
    ['"\u0000"', 'syntax'],
    ['[1] [2]', 'syntax'],
    ['', 'syntax'],
    ['[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]', 'too-deep'],
  ])('refuses %j (%s)', (text, kind) => {
    expect(() => parseStrictJson(text)).toThrow(JsonSyntaxError);
    try {
      parseStrictJson(text);
    } catch (e) {
      expect((e as JsonSyntaxError).kind).toBe(kind);
    }
  });

  it('never throws anything but JsonSyntaxError on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (text) => {
        try {
          parseStrictJson(text);
        } catch (e) {
          expect(e).toBeInstanceOf(JsonSyntaxError);
        }
      }),
      { numRuns: 500 },
    );
  });
});
