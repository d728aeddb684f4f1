import type { Engine } from './engine.js';
import { createReferenceEngine } from './host-engine.js';

let current: Engine<any> | undefined;

/**
 * The engine layers use when none is passed. Until {@link setDefaultEngine} is called this is
 * the float64 reference engine (host arrays, exact, slow); `@normbridge/tfjs` users typically
 * call `setDefaultEngine(await createTfjsEngine('cpu'))` once at start-up.
 */
export function getDefaultEngine(): Engine<any> {
  current ??= createReferenceEngine();
  return current;
}

export function setDefaultEngine(engine: Engine<any> | undefined): void {
  current = engine;
}
