/**
 * Mutated valid files: whatever the damage, the reader either parses the file (and then every
 * tensor reads back consistently) or throws a SafetensorsError. Never a TypeError, RangeError,
 * hang or out-of-memory.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SafetensorsError } from '../errors.js';
import { SAFETENSORS_DTYPES, dtypeInfo } from '../format/dtypes.js';
import { parseSafetensors } from './memory.js';
import { serializeSafetensors } from './serialize-memory.js';
import { pseudoRandomBytes } from '../test-support/raw.js';

/** A few valid files of different shapes: many small tensors, metadata, scalars, empties. */
function baseFiles(): Uint8Array[] {
  const t = (dtype: (typeof SAFETENSORS_DTYPES)[number], shape: number[], seed: number) => {
    const n = shape.reduce((a, d) => a * d, 1);
    let bytes = pseudoRandomBytes(n * dtypeInfo(dtype).size, seed);
    if (dtype === 'BOOL') bytes = bytes.map((b) => b & 1);
    return { dtype, shape, bytes };
  };
  return [
    serializeSafetensors({ a: t('F32', [2, 3], 1) }),
    serializeSafetensors(
      Object.fromEntries(SAFETENSORS_DTYPES.map((d, i) => [`t.${d}`, t(d, [i % 3, 2], i + 2)])),
      { metadata: { format: 'pt', note: 'ünïcödé ✓' } },
    ),
    serializeSafetensors({ s: t('I64', [], 7), e: t('F16', [0], 8), 'layer.0.w': t('BF16', [4, 4], 9) }),
    serializeSafetensors({}, { metadata: { k: 'v' } }),
  ];
}

/** How often each outcome happened, to check below that the fuzzer reaches deep. */
const outcomes = new Map<string, number>();

function checkParse(bytes: Uint8Array): void {
  let st;
  try {
    st = parseSafetensors(bytes);
  } catch (e) {
    if (!(e instanceof SafetensorsError)) throw e;
    outcomes.set(e.code, (outcomes.get(e.code) ?? 0) + 1);
    return;
  }
  outcomes.set('ok', (outcomes.get('ok') ?? 0) + 1);
  // A successful parse is consistent: every tensor reads, sizes add up.
  let total = 0;
  for (const t of st.tensors) {
    expect(st.view(t.name).length).toBe(t.byteLength);
    expect(st.float32Sync(t.name).length).toBe(t.numel);
    total += t.byteLength;
  }
  expect(total).toBe(st.header.dataLength);
}

type Mutation =
  | { kind: 'flip'; at: number; mask: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: number[]; reframe: boolean }
  | { kind: 'delete'; at: number; length: number; reframe: boolean }
  | { kind: 'digit'; nth: number; digit: number; insert: boolean }
  | { kind: 'length'; value: bigint };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.constantFrom(0x22, 0x2c, 0x30, 0x39, 0x5b, 0x5d, 0x7b, 0x7d, 0x2d, 0x2e, 0x20, 0x5c, 0x00, 0xff) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.array(fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
    reframe: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }), reframe: fc.boolean() }),
  // Rewrites one digit of the header (a dimension or an offset), keeping the framing intact.
  fc.record({ kind: fc.constant('digit' as const), nth: fc.nat(), digit: fc.integer({ min: 0, max: 9 }), insert: fc.boolean() }),
  fc.record({ kind: fc.constant('length' as const), value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
);

function apply(bytes: Uint8Array, m: Mutation): Uint8Array {
  // Bias positions towards the prefix and header, where the parsing happens.
  const declared = bytes.length >= 8 ? Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true)) : 0;
  const headerEnd = Math.min(bytes.length, 8 + declared);
  const pos = (at: number) => (at % 4 === 0 || headerEnd <= 8 ? at % Math.max(1, bytes.length) : 8 + (at % (headerEnd - 8)));
  switch (m.kind) {
    case 'flip': {
      const out = bytes.slice();
      if (out.length > 0) out[pos(m.at)]! ^= m.mask;
      return out;
    }
    case 'set': {
      const out = bytes.slice();
      if (out.length > 0) out[pos(m.at)] = m.value;
      return out;
    }
    case 'truncate':
      return bytes.slice(0, m.at % (bytes.length + 1));
    case 'insert': {
      const at = pos(m.at);
      return reframe(Uint8Array.from([...bytes.subarray(0, at), ...m.bytes, ...bytes.subarray(at)]), m.reframe && at >= 8 && at < headerEnd, m.bytes.length);
    }
    case 'delete': {
      const at = pos(m.at);
      const removed = Math.max(0, Math.min(m.length, bytes.length - at));
      const inHeader = m.reframe && at >= 8 && at + removed <= headerEnd;
      return reframe(Uint8Array.from([...bytes.subarray(0, at), ...bytes.subarray(at + m.length)]), inHeader, -removed);
    }
    case 'digit': {
      const digits: number[] = [];
      for (let i = 8; i < headerEnd; i++) if (bytes[i]! >= 0x30 && bytes[i]! <= 0x39) digits.push(i);
      if (digits.length === 0) return bytes;
      const at = digits[m.nth % digits.length]!;
      if (!m.insert) {
        const out = bytes.slice();
        out[at] = 0x30 + m.digit;
        return out;
      }
      return reframe(Uint8Array.from([...bytes.subarray(0, at), 0x30 + m.digit, ...bytes.subarray(at)]), true, 1);
    }
    case 'length': {
      const out = bytes.slice();
      if (out.length >= 8) new DataView(out.buffer).setBigUint64(0, m.value, true);
      return out;
    }
  }
}

/** Adjusts the header length by `delta` after an edit inside the header. */
function reframe(bytes: Uint8Array, apply: boolean, delta: number): Uint8Array {
  if (!apply || bytes.length < 8) return bytes;
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const n = view.getBigUint64(0, true) + BigInt(delta);
  if (n >= 0n) view.setBigUint64(0, n, true);
  return bytes;
}

describe('fuzzing the reader with mutated valid files', () => {
  const bases = baseFiles();

  it('the unmutated bases parse', () => {
    for (const b of bases) expect(() => parseSafetensors(b)).not.toThrow();
  });

  it('one to four mutations: a typed error or a consistent parse, never anything else', () => {
    fc.assert(
      fc.property(fc.nat({ max: bases.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 4 }), (which, ms) => {
        checkParse(ms.reduce(apply, bases[which]!));
      }),
      { numRuns: 4000, seed: 20240611 },
    );
  });

  it('random garbage after a valid-looking prefix', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat({ max: 400 }), (body, len) => {
        const out = new Uint8Array(8 + body.length);
        new DataView(out.buffer).setBigUint64(0, BigInt(len), true);
        out.set(body, 8);
        checkParse(out);
      }),
      { numRuns: 2000, seed: 7 },
    );
  });

  it('headers built from random JSON values', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }), fc.nat({ max: 64 }), (header, data) => {
        const h = new TextEncoder().encode(JSON.stringify(header));
        const out = new Uint8Array(8 + h.length + data);
        new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
        out.set(h, 8);
        checkParse(out);
      }),
      { numRuns: 2000, seed: 11 },
    );
  });

  it('reached both successful parses and errors deep in the header', () => {
    expect(outcomes.get('ok') ?? 0).toBeGreaterThan(50);
    for (const code of ['header-invalid-json', 'size-mismatch', 'data-truncated', 'tensor-info-invalid', 'unknown-dtype', 'offsets-reversed']) {
      expect(outcomes.get(code) ?? 0, `${code} in ${JSON.stringify([...outcomes])}`).toBeGreaterThan(0);
    }
  });
});
