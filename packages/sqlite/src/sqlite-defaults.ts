/**
 * The defaults of {@link openSqlite}'s options, in one place: the code reads them from here and the docs'
 * tables are checked against them.
 *
 * @example
 * ```ts
 * console.log(SQLITE_DEFAULTS.synchronous) // 'FULL'
 * const sqlite = await openSqlite('app.db', { busyTimeoutMs: SQLITE_DEFAULTS.busyTimeoutMs * 2 })
 * ```
 */
export const SQLITE_DEFAULTS = Object.freeze({
  /**
   * `PRAGMA synchronous`: `'FULL'` syncs every commit to disk before `append` resolves, so an acknowledged
   * event survives power loss. `'NORMAL'` is the opt-in for speed: it survives a process crash only.
   */
  synchronous: 'FULL',
  /** `PRAGMA busy_timeout`, in ms: how long a write waits for another process's write lock. */
  busyTimeoutMs: 5000,
  /** Group commit: a queued batch is flushed at once when it holds this many events. */
  maxBatchEvents: 2000,
  /** Where a file database's appends run: on a worker thread with its own connection. */
  writer: 'thread',
} as const)
