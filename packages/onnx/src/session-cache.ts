/**
 * Sessions, created once per graph key and reused. A key names everything the graph depends on
 * (spec fields, input shape, dtypes, mask, replicas, graph kind), never per-step values such as
 * the average weight, which are fed as inputs.
 */
import type { InferenceSession } from 'onnxruntime-node';
import type { LoadedBackend } from './backends.js';
import type { BuiltModel } from './proto/builder.js';

interface Entry {
  readonly session: Promise<InferenceSession>;
  busy: number;
  evicted: boolean;
}

export interface CacheStats {
  /** ONNX models built so far: one per distinct graph key (a cache hit builds none). */
  readonly modelsBuilt: number;
  /** Sessions held now. */
  readonly sessions: number;
}

export class SessionCache {
  readonly #entries = new Map<string, Entry>();
  #modelsBuilt = 0;

  constructor(
    private readonly backend: LoadedBackend,
    private readonly maxSessions: number,
  ) {}

  get stats(): CacheStats {
    return { modelsBuilt: this.#modelsBuilt, sessions: this.#entries.size };
  }

  /** Runs `feeds` on the session for `key`, building the model with `build` on a miss. */
  async run(key: string, build: () => BuiltModel, feeds: InferenceSession.FeedsType): Promise<InferenceSession.ReturnType> {
    let entry = this.#entries.get(key);
    if (entry) {
      // Most recently used last, so that eviction takes the oldest.
      this.#entries.delete(key);
      this.#entries.set(key, entry);
    } else {
      const model = build();
      this.#modelsBuilt++;
      entry = { session: this.backend.InferenceSession.create(model.bytes, this.backend.sessionOptions), busy: 0, evicted: false };
      // A session that fails to build is forgotten, so that the error is not replayed forever.
      entry.session.catch(() => this.#entries.delete(key));
      this.#entries.set(key, entry);
      this.#evict();
    }
    entry.busy++;
    try {
      const session = await entry.session;
      return await session.run(feeds);
    } finally {
      entry.busy--;
      if (entry.evicted && entry.busy === 0) void this.#release(entry);
    }
  }

  /** Releases every session (a later call builds again). */
  async clear(): Promise<void> {
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    for (const e of entries) e.evicted = true;
    // Sessions still running are released when their last run ends.
    await Promise.all(entries.filter((e) => e.busy === 0).map((e) => this.#release(e)));
  }

  #evict(): void {
    while (this.#entries.size > this.maxSessions) {
      const [oldKey, old] = this.#entries.entries().next().value as [string, Entry];
      this.#entries.delete(oldKey);
      old.evicted = true;
      if (old.busy === 0) void this.#release(old);
    }
  }

  async #release(entry: Entry): Promise<void> {
    try {
      await (await entry.session).release();
    } catch {
      // a session that never opened has nothing to release
    }
  }
}
