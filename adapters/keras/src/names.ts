/**
 * Keras 3 default layer names: `snake_case(class name)`, then `_1`, `_2`, … for later layers of
 * the same class in the process (`keras.backend.get_uid` / `auto_name`). `clearSession()`
 * restarts the count, as `keras.backend.clear_session()` does.
 */
const counters = new Map<string, number>();

export function uniqueLayerName(prefix: string): string {
  const n = (counters.get(prefix) ?? 0) + 1;
  counters.set(prefix, n);
  return n === 1 ? prefix : `${prefix}_${n - 1}`;
}

/** Resets default names (Keras `keras.backend.clear_session()`). */
export function clearSession(): void {
  counters.clear();
}
