/**
 * A per-key lock within the provider process. One process serves a whole
 * deployment and the engine runs creates and deletes in parallel, so steps
 * that read, decide and write a setting shared between resources (the
 * forwarding of one namespace) take turns here.
 */

const tails = new Map<string, Promise<unknown>>();

/** Runs `fn` once every earlier holder of `key` has finished. */
export async function withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const before = tails.get(key) ?? Promise.resolve();
  const run = before.catch(() => undefined).then(fn);
  const tail = run.catch(() => undefined);
  tails.set(key, tail);
  try {
    return await run;
  } finally {
    if (tails.get(key) === tail) tails.delete(key);
  }
}
