import type { SyncEngine, Support } from './engine.js';
import { checkStateValues } from './layout.js';
import { referenceEval, referenceTrain, referenceVjp } from './reference.js';
import type { HostState } from './state.js';
import { checkHostTensor, hostRow, isHostTensor, reshapeHost, type HostTensor } from './tensor.js';

/**
 * The float64 reference as an engine: slow, exact, dependency-free. Useful as an oracle in the
 * conformance matrix and for adapters' own tests where no tfjs backend is wanted.
 */
export function createReferenceEngine(): SyncEngine<HostTensor> {
  const ok: Support = { ok: true };
  return {
    name: 'reference-f64',
    synchronous: true,
    capabilities: { gradients: true, dtypes: ['float64', 'float32'], masks: true, crossReplica: true, arithmetic: 'float64' },
    supports: () => ok,
    fromHost: (t) => (checkHostTensor('tensor', t), t),
    toHost: (t) => t,
    shapeOf: (t) => t.shape,
    owns: isHostTensor,
    reshape: reshapeHost,
    row: hostRow,
    stateFromHost(state: HostState) {
      checkStateValues(state);
      return state;
    },
    dispose: () => {},
    retain: (t) => t,
    // Host tensors reach this engine directly (fromHost is the identity), so inputs are checked here.
    train: (spec, state, x, options) => (checkHostTensor('input', x), referenceTrain(spec, state, x, options)),
    evaluate: (spec, state, x, options) => (checkHostTensor('input', x), referenceEval(spec, state, x, options)),
    vjp: (spec, state, x, dy, mode, options) => {
      checkHostTensor('input', x);
      checkHostTensor('cotangent', dy);
      return referenceVjp(spec, state, x, dy, mode, options);
    },
  };
}
