import { describe, expect, it } from 'vitest';
import { BLOCK_ALIGN, Heap, LARGE_BLOCK_ALIGN, WasmMemoryError } from './heap.js';

const heapOf = (limit: number) => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: Math.ceil(limit / 65536) });
  return { memory, heap: new Heap(memory, limit) };
};

describe('Heap', () => {
  it('hands out aligned, non-zero, disjoint blocks, large ones page-aligned, and grows the memory as needed', () => {
    const { memory, heap } = heapOf(1 << 20);
    const a = heap.alloc(100);
    const b = heap.alloc(70_000);
    const c = heap.alloc(200);
    expect(a).toBeGreaterThan(0);
    expect(a % BLOCK_ALIGN).toBe(0);
    expect(b % LARGE_BLOCK_ALIGN).toBe(0);
    expect(b).toBeGreaterThanOrEqual(a + 100);
    expect(memory.buffer.byteLength).toBeGreaterThanOrEqual(b + 70_000);
    expect(c).toBeLessThan(b); // the gap before the page-aligned block serves small blocks
    expect(heap.liveBytes).toBe(128 + 18 * 4096 + 256);
  });

  it('places two large blocks at the same offset modulo 4 KiB, whatever was allocated between them', () => {
    const { heap } = heapOf(1 << 22);
    const x = heap.alloc(1_000_000);
    heap.alloc(256);
    heap.alloc(1000);
    const y = heap.alloc(1_000_000);
    expect((y - x) % LARGE_BLOCK_ALIGN).toBe(0);
  });

  it('gives a freed block of the same size back, last freed first (warm addresses)', () => {
    const { heap } = heapOf(1 << 20);
    const a = heap.alloc(1000);
    const b = heap.alloc(1000);
    heap.alloc(64); // keeps b from being the top block
    heap.free(a);
    heap.free(b);
    expect(heap.alloc(1000)).toBe(b);
    expect(heap.alloc(1000)).toBe(a);
  });

  it('merges neighbouring free blocks when nothing else fits, then refuses with a WasmMemoryError', () => {
    const { heap } = heapOf(65536);
    const blocks = [heap.alloc(16_000), heap.alloc(16_000), heap.alloc(16_000), heap.alloc(16_000)];
    heap.free(blocks[1]!);
    heap.free(blocks[2]!);
    expect(heap.alloc(30_000)).toBe(blocks[1]); // only the two merged blocks hold it
    expect(() => heap.alloc(30_000)).toThrow(WasmMemoryError);
    expect(heap.liveBytes).toBe(2 * 16_000 + 30_016); // blocks 0 and 3, and the front of the merged block
  });

  it('ignores a free of an unknown offset (a double dispose)', () => {
    const { heap } = heapOf(1 << 20);
    const a = heap.alloc(10);
    heap.free(a);
    heap.free(a);
    expect(heap.liveBytes).toBe(0);
  });
});
