import { UnsupportedError, type ReplicaOptions } from '@normbridge/core';
import { UnboundAxisNameError } from './errors.js';

/**
 * Cross-replica BatchNorm without devices. In Flax, `jax.pmap(step, axis_name='batch')` runs
 * `step` once per device; a BatchNorm with `axis_name='batch'` averages its per-device
 * statistics with `lax.pmean` (an unweighted mean, optionally within `axis_index_groups`).
 *
 * Here the replicas are stacked on a leading axis of one array and {@link pmap} marks the
 * call: inside it, every BatchNorm reads axis 0 of its input as the replica axis. A BatchNorm
 * whose `axisName` is the bound name combines statistics across replicas (core spec
 * `replicaCombination: 'unweighted-mean'` with `StepOptions.replicas`); one without `axisName`
 * — or a linen/legacy one while initialising, where Flax drops the axis name — normalises each
 * replica with its own statistics, as each device would. Running statistics come back stacked
 * `[replicas, ...features]`, as a pmapped step returns them (see `unreplicate`).
 *
 * Everything else in the model runs once on the stacked array, so model code around the
 * BatchNorm must treat axis 0 as just another batch axis (Dense, relu and elementwise code do).
 */

const bound: string[] = [];

/**
 * `jax.pmap(fn, axis_name=…)` over inputs stacked on a leading replica axis (see the module
 * comment). One level only: nesting raises `UnsupportedError`.
 */
export function pmap<A extends unknown[], R>(fn: (...args: A) => R, options: { readonly axisName: string }): (...args: A) => R {
  return (...args: A): R => {
    if (bound.length > 0) {
      throw new UnsupportedError(`pmap(axisName: '${options.axisName}') inside pmap(axisName: '${bound[0]}')`, 'only one level of pmap is emulated');
    }
    bound.push(options.axisName);
    try {
      return fn(...args);
    } finally {
      bound.pop();
    }
  };
}

/** The axis name bound by the enclosing {@link pmap}, if any. */
export function boundAxisName(): string | undefined {
  return bound[bound.length - 1];
}

/**
 * The replica options of one BatchNorm call.
 *
 * @param axisName the layer's `axis_name`
 * @param axisIndexGroups the layer's `axis_index_groups`
 * @param collective false where Flax drops the axis name (linen and legacy while initialising)
 * @param replicas size of the input's leading axis (used inside {@link pmap})
 * @returns `undefined` outside pmap (no replica axis); otherwise the replica groups
 */
export function replicaOptions(
  axisName: string | undefined,
  axisIndexGroups: readonly (readonly number[])[] | undefined,
  collective: boolean,
  replicas: number,
): ReplicaOptions | undefined {
  const name = boundAxisName();
  const wantsCollective = axisName !== undefined && axisName !== null && collective;
  if (name === undefined) {
    if (wantsCollective) throw new UnboundAxisNameError(axisName);
    return undefined;
  }
  if (wantsCollective) {
    if (axisName !== name) throw new UnboundAxisNameError(axisName);
    return { groups: axisIndexGroups };
  }
  // Each device on its own: one group per replica.
  return { groups: Array.from({ length: replicas }, (_, i) => [i]) };
}
