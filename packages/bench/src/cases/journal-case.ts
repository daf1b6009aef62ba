import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { SqliteSynchronous } from '../sqlite-settings.ts'

/** Options of {@link runJournalAppend}. */
export interface JournalAppendOptions {
  readonly dir: string
  readonly synchronous: SqliteSynchronous
  readonly events: number
  readonly streams: number
  readonly inFlight: number
}

/** What `runJournalBench` of `packages/sqlite/bench/journal-bench.ts` returns (the part used here). */
export interface JournalAppendResult {
  readonly raw_rows_per_s: number
  readonly journal_rows_per_s: number
  readonly journal_append_vs_raw: number
  readonly live_lag_p50_ms: number
  readonly live_lag_p99_ms: number
  readonly journal_transactions: number
  readonly journal_mean_batch: number
}

const KYSELY_BENCH = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../sqlite/bench/journal-bench.ts',
)

/**
 * Journal append through group commit against raw better-sqlite3 batched inserts of the same rows, and the
 * live-read lag from commit to an in-process subscriber: the sqlite package's own benchmark,
 * `runJournalBench` of `packages/sqlite/bench/journal-bench.ts`, run with this run's size and settings.
 *
 * @example
 * ```ts
 * const j = await runJournalAppend({ dir: '/tmp', synchronous: 'FULL', events: 20_000, streams: 1_000, inFlight: 100 })
 * ```
 */
export async function runJournalAppend(options: JournalAppendOptions): Promise<JournalAppendResult> {
  const module = (await import(pathToFileURL(KYSELY_BENCH).href)) as {
    runJournalBench?: (options: Record<string, unknown>) => Promise<JournalAppendResult>
  }
  if (typeof module.runJournalBench !== 'function') {
    throw new Error(
      `${KYSELY_BENCH} does not export runJournalBench(options); the journal benchmark cannot run.`,
    )
  }
  return module.runJournalBench({
    events: options.events,
    streams: options.streams,
    inFlight: options.inFlight,
    rawBatch: 1000,
    // Three alternating raw/journal rounds, like the command runs.
    rounds: 3,
    synchronous: options.synchronous,
    lagEvents: Math.min(5000, options.events),
    dir: options.dir,
  })
}
