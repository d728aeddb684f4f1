/** The frameworks whose checkpoint names normbridge translates. */
export const FRAMEWORKS = ['torch', 'flax', 'nnx', 'mlx', 'keras'] as const;
export type Framework = (typeof FRAMEWORKS)[number];

export function isFramework(v: unknown): v is Framework {
  return typeof v === 'string' && (FRAMEWORKS as readonly string[]).includes(v);
}
