// GB/s per engine against the machine's bandwidth floor, one panel per operation.
import { Canvas } from './canvas.mjs';
import { drawText } from './font.mjs';
import { encodePng } from './png.mjs';

const WIDTH = 1000;
const LABEL_WIDTH = 300;
const ROW = 16;
const PANEL_GAP = 40;
const COLOURS = {
  torch: [220, 120, 30],
  'nb-wasm': [200, 160, 0],
  'tfjs-cpu': [90, 90, 200],
  'tfjs-wasm': [40, 150, 90],
  'ort-node': [170, 60, 160],
  'ort-web-wasm': [60, 160, 190],
  'reference-f64': [130, 130, 130],
};
const INK = [20, 20, 20];
const FLOOR = [210, 30, 30];

/** rows: { op, label, engine (a label: its first word picks the colour), gbs }; floorGBs: the measured bandwidth. Returns PNG bytes. */
export function plotThroughput(rows, floorGBs, title) {
  const ops = [...new Set(rows.map((r) => r.op))];
  const height = 40 + ops.reduce((h, op) => h + PANEL_GAP + ROW * rows.filter((r) => r.op === op).length, 0);
  const canvas = new Canvas(WIDTH, height);
  drawText(canvas, title, 10, 10, INK, 2);
  const maxGBs = Math.max(floorGBs, ...rows.map((r) => r.gbs)) * 1.05;
  const barWidth = WIDTH - LABEL_WIDTH - 20;
  const xOf = (gbs) => LABEL_WIDTH + (gbs / maxGBs) * barWidth;
  let y = 40;
  for (const op of ops) {
    const mine = rows.filter((r) => r.op === op);
    drawText(canvas, `${op}  GB/S  (FLOOR ${floorGBs.toFixed(1)})`, 10, y + 10, INK, 2);
    y += PANEL_GAP - 8;
    const top = y;
    for (const r of mine) {
      drawText(canvas, r.label, 10, y + 3, INK, 2);
      canvas.fill(LABEL_WIDTH, y + 2, Math.max(1, xOf(r.gbs) - LABEL_WIDTH), ROW - 4, COLOURS[r.engine.split(' ')[0]] ?? INK);
      drawText(canvas, r.gbs.toFixed(2), Math.min(xOf(r.gbs) + 4, WIDTH - 50), y + 3, INK, 2);
      y += ROW;
    }
    canvas.fill(xOf(floorGBs), top, 2, y - top, FLOOR);
    y += 8;
  }
  return encodePng(canvas.width, canvas.height, canvas.pixels);
}
