import { existsSync } from 'node:fs'
import path from 'node:path'
import type { Journal, ReadJournal } from '@statesource/core'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { openBenchStorage } from '../bench-storage.ts'
import type { SqliteSynchronous } from '../sqlite-settings.ts'
import { populateJournal } from './populate-journal.ts'

/** Options of {@link runReadSide}. */
export interface ReadSideOptions {
  readonly dir: string
  readonly synchronous: SqliteSynchronous
  /** Stored events the reader catches up over. Default 1,000,000. */
  readonly events: number
  readonly streams: number
  /** Live events appended one by one to measure the lag. Default 1,000. */
  readonly liveSamples?: number
}

/** What {@link runReadSide} measured. */
export interface ReadSideResult {
  readonly events: number
  readonly catchupEventsPerSec: number
  /** `undefined` when only the fallback ran (it measures catch-up only). */
  readonly liveLagP50Ms: number | undefined
  readonly liveLagP99Ms: number | undefined
  /** Which code measured it: the read-side engineer's `runCatchupBench`, or this package's fallback. */
  readonly source: 'core/bench/read-side-bench.ts' | 'fallback: currentAllEvents'
}

/** The read side's own benchmark (`packages/core/bench/read-side-bench.ts`), when it exists. */
interface CatchupBenchModule {
  runCatchupBench(options: {
    events?: number
    eventsPerStream?: number
    liveSamples?: number
    storage?: () => Promise<{ journal: Journal; readJournal: ReadJournal; close?: () => Promise<void> }>
  }): Promise<{ catchup_events_per_s: number; live_lag_p50_ms: number; live_lag_p99_ms: number }>
}

const CORE_BENCH = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../core/bench/read-side-bench.ts',
)

/**
 * Catch-up rate of one reader over `events` stored events, and live lag: calls `runCatchupBench` of
 * `packages/core/bench/read-side-bench.ts` on statesource's SQLite storage when that file exists (a reader
 * folding a sum, live lag from append to the projection's publish); otherwise measures catch-up itself by
 * draining `currentAllEvents()` of the SQLite read journal (decoding every envelope) over a journal it fills.
 *
 * @example
 * ```ts
 * const r = await runReadSide({ dir: '/tmp/x', synchronous: 'FULL', events: 50_000, streams: 1_000 })
 * ```
 */
export async function runReadSide(options: ReadSideOptions): Promise<ReadSideResult> {
  if (existsSync(CORE_BENCH)) {
    const module = (await import(pathToFileURL(CORE_BENCH).href)) as Partial<CatchupBenchModule>
    if (typeof module.runCatchupBench === 'function') {
      const result = await module.runCatchupBench({
        events: options.events,
        eventsPerStream: Math.ceil(options.events / options.streams),
        liveSamples: options.liveSamples ?? 1000,
        storage: async () => {
          const storage = await openBenchStorage(path.join(options.dir, 'read-side.db'), options.synchronous)
          return {
            journal: storage.sqlite.journal,
            readJournal: storage.sqlite.readJournal(),
            close: storage.close,
          }
        },
      })
      return {
        events: options.events,
        catchupEventsPerSec: result.catchup_events_per_s,
        liveLagP50Ms: result.live_lag_p50_ms,
        liveLagP99Ms: result.live_lag_p99_ms,
        source: 'core/bench/read-side-bench.ts',
      }
    }
  }
  const storage = await openBenchStorage(path.join(options.dir, 'read-side.db'), options.synchronous)
  try {
    await populateJournal(storage.sqlite.journal, { commands: options.events, streams: options.streams })
    const readJournal = storage.sqlite.readJournal()
    const started = performance.now()
    let seen = 0
    let checksum = 0
    await new Promise<void>((resolve, reject) => {
      readJournal.currentAllEvents(0).subscribe({
        next: (envelope) => {
          seen++
          checksum += envelope.seqNr
        },
        error: reject,
        complete: resolve,
      })
    })
    const seconds = (performance.now() - started) / 1000
    if (seen !== options.events || checksum <= 0) {
      throw new Error(`The reader saw ${seen} events, expected ${options.events}.`)
    }
    return {
      events: seen,
      catchupEventsPerSec: seen / seconds,
      liveLagP50Ms: undefined,
      liveLagP99Ms: undefined,
      source: 'fallback: currentAllEvents',
    }
  } finally {
    await storage.close()
  }
}
