import * as tf from '@tensorflow/tfjs-core';
import type { Plan } from './plan.js';

/**
 * Cross-replica reduction: a statistic of shape `[R, ...]` summed over each replica's group
 * and handed back to every member, as an all-reduce would. Built from plain arrays, so it
 * can be rebuilt inside a gradient function without saving tensors.
 */
export interface ReplicaGroups {
  /** True when every replica is its own group (or there are no replicas): `sum` is the identity. */
  readonly trivial: boolean;
  sum(t: tf.Tensor): tf.Tensor;
  /** `[R, 1, …, 1]` (rank of the statistics): the size of each replica's group. */
  sizes(): tf.Tensor;
}

export function replicaGroups(plan: Plan): ReplicaGroups {
  const { replicas: r, groups } = plan.layout;
  const trivial = !plan.replicated || groups.every((g) => g.length === 1);
  const groupOf = new Array<number>(r);
  groups.forEach((g, gi) => g.forEach((i) => (groupOf[i] = gi)));
  const statRank = plan.statShape.length;
  return {
    trivial,
    sum(t) {
      if (trivial) return t;
      // Membership matrix: a matMul is one kernel on every backend, unlike a gather per group.
      const member = new Float32Array(r * r);
      for (let i = 0; i < r; i++) for (let j = 0; j < r; j++) member[i * r + j] = groupOf[i] === groupOf[j] ? 1 : 0;
      // A mask without a replica axis gives counts with a leading 1: one row per replica first.
      const full = t.shape[0] === r ? t : tf.add(t, tf.zeros([r, ...t.shape.slice(1)]));
      const summed = tf.matMul(tf.tensor2d(member, [r, r]), tf.reshape(full, [r, -1]));
      return tf.reshape(summed, full.shape);
    },
    sizes() {
      const sizes = Float32Array.from({ length: r }, (_, i) => groups[groupOf[i]!]!.length);
      return tf.tensor(sizes, [r, ...new Array<number>(Math.max(0, statRank - 1)).fill(1)]);
    },
  };
}
