import { Module } from './module.js';

/** A layer of a {@link Sequential}: a module with `call(x)` or a function. */
export type Layer = { call(x: any): any } | ((x: any) => any);

/** `nnx.Sequential(*layers)`: layers live under `layers` (state paths `layers/0/…`, `layers/1/…`). */
export class Sequential extends Module {
  layers: Layer[];

  constructor(...layers: Layer[]) {
    super();
    this.layers = layers;
  }

  call(x: any): any {
    let y = x;
    for (const layer of this.layers) y = typeof layer === 'function' ? layer(y) : layer.call(y);
    return y;
  }
}
