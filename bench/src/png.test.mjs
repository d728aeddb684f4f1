import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Canvas } from './canvas.mjs';
import { encodePng } from './png.mjs';

describe('encodePng', () => {
  it('writes a PNG whose pixels decode back to the canvas, with valid chunk CRCs', () => {
    const canvas = new Canvas(5, 3);
    canvas.fill(1, 1, 2, 1, [200, 10, 30]);
    const png = encodePng(canvas.width, canvas.height, canvas.pixels);
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(png.readUInt32BE(16)).toBe(5);
    expect(png.readUInt32BE(20)).toBe(3);
    const idatLength = png.readUInt32BE(33);
    expect(png.toString('ascii', 37, 41)).toBe('IDAT');
    const raw = inflateSync(png.subarray(41, 41 + idatLength));
    const row1 = raw.subarray(16, 32); // second row: filter byte, then 5 RGB pixels
    expect(row1[0]).toBe(0);
    expect([...row1.subarray(1 + 3, 1 + 9)]).toEqual([200, 10, 30, 200, 10, 30]);
    expect([...row1.subarray(1, 4)]).toEqual([255, 255, 255]);
  });

  it('refuses a pixel buffer of the wrong size', () => {
    expect(() => encodePng(2, 2, new Uint8Array(5))).toThrow(/expected 12 bytes/);
  });
});
