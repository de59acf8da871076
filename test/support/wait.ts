/**
 * Waiting on a condition instead of sleeping a fixed time: the test goes on as
 * soon as what it waits for is true, and when it never comes, the failure says
 * what it was waiting for rather than failing later on a stale look.
 */

/** How long to wait and what for. */
export interface WaitOptions {
  /** Give up after this long. */
  readonly timeoutMs: number;
  /** What is awaited, in words, for the failure: `"sshd to log the login"`. */
  readonly what: string | (() => string);
  /** Pause between two looks; 50 ms. */
  readonly intervalMs?: number;
}

/**
 * Calls `condition` until it returns a truthy value, and returns that value.
 * A condition that throws counts as not yet met; its last error is named in
 * the failure. Throws, after `timeoutMs`, `waited 5000 ms for <what>, in vain`.
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  { timeoutMs, what, intervalMs = 50 }: WaitOptions,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value as NonNullable<T>;
      lastError = undefined;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const words = typeof what === "function" ? what() : what;
      const why = lastError === undefined ? "" : `; the last look failed: ${String(lastError)}`;
      throw new Error(`waited ${timeoutMs} ms for ${words}, in vain${why}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
