import path from 'node:path'
import {
  type CqrsHandles,
  CqrsPattern,
  type SnapshotStore,
  type StoredSnapshot,
  silentLogger,
} from '@statesource/core'
import { openBenchStorage } from '../bench-storage.ts'
import { probedCart } from '../cart-aggregate.ts'
import type { SqliteSynchronous } from '../sqlite-settings.ts'
import { populateJournal } from './populate-journal.ts'

/** Options of {@link runRecovery}. */
export interface RecoveryOptions {
  /** Scratch directory (the SQLite file goes there). */
  readonly dir: string
  readonly synchronous: SqliteSynchronous
  /** How many passivated aggregates are brought back. Default 10,000. */
  readonly aggregates: number
  /** Events each of them has. Default 20 (19 items added, then confirmed). */
  readonly eventsPerAggregate: number
  /** Events of the one big aggregate. Default 100,000. */
  readonly bigAggregateEvents: number
  /** Commands in flight while bringing aggregates back. Default 100. */
  readonly concurrency: number
  /** Timed repetitions of the big aggregate's recovery (the median is reported). Default 5. */
  readonly repetitions: number
}

/** What {@link runRecovery} measured, in milliseconds. */
export interface RecoveryResult {
  readonly aggregates: number
  readonly eventsPerAggregate: number
  readonly bigAggregateEvents: number
  /** Bringing back every passivated aggregate, replaying its events from the journal. */
  readonly manyNoSnapshotMs: number
  /** The same from snapshots (each was snapshotted when it was passivated). */
  readonly manySnapshotMs: number
  /** Snapshot loads that found a snapshot during the timed snapshot run (should equal `aggregates`). */
  readonly manySnapshotHits: number
  /** One aggregate with `bigAggregateEvents` events, replayed from the journal (median). */
  readonly bigNoSnapshotMs: number
  /** The same aggregate from its snapshot (median). */
  readonly bigSnapshotMs: number
}

/** A snapshot store wrapper that counts pending saves and load hits. */
function countingStore(inner: SnapshotStore) {
  let pending = 0
  let hits = 0
  const store: SnapshotStore = {
    async save(snapshot: StoredSnapshot, options?: { keepLast?: number }) {
      pending++
      try {
        await inner.save(snapshot, options)
      } finally {
        pending--
      }
    },
    async load(persistenceId) {
      const found = await inner.load(persistenceId)
      if (found) hits++
      return found
    },
    deleteTo: (persistenceId, toSeqNr) => inner.deleteTo(persistenceId, toSeqNr),
    count: (persistenceId) => inner.count(persistenceId),
  }
  return {
    store,
    hits: () => hits,
    resetHits: () => {
      hits = 0
    },
    settled: async () => {
      while (pending > 0) await new Promise((resolve) => setImmediate(resolve))
    },
  }
}

/** Sends the no-op `Touch` to every id (`concurrency` in flight); resolves with the elapsed milliseconds. */
async function touchAll(handles: CqrsHandles, ids: readonly string[], concurrency: number): Promise<number> {
  const carts = handles.repository(probedCart)
  let next = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: Math.min(concurrency, ids.length) }, async () => {
      while (next < ids.length) await carts.send(ids[next++]!, { type: 'Touch' })
    }),
  )
  return performance.now() - started
}

function passivateAll(handles: CqrsHandles, ids: readonly string[]): void {
  for (const id of ids) {
    const persistenceId = probedCart.persistenceId(id)
    if (!handles.runtime.passivateNow(persistenceId) || handles.runtime.isLive(persistenceId)) {
      throw new Error(`Aggregate "${id}" could not be passivated: it is not live or still busy.`)
    }
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

/**
 * Recovery time: bring back `aggregates` passivated aggregates (with and without snapshots), and one
 * aggregate with `bigAggregateEvents` events (with and without a snapshot). Aggregates are brought back by
 * a command that records nothing (`Touch`), so the time is recovery plus one command round trip.
 *
 * @example
 * ```ts
 * const r = await runRecovery({ dir: '/tmp/x', synchronous: 'FULL', aggregates: 1_000, eventsPerAggregate: 20, bigAggregateEvents: 10_000, concurrency: 100, repetitions: 3 })
 * ```
 */
export async function runRecovery(options: RecoveryOptions): Promise<RecoveryResult> {
  const storage = await openBenchStorage(path.join(options.dir, 'recovery.db'), options.synchronous)
  try {
    const journal = storage.sqlite.journal
    const many = { commands: options.aggregates * options.eventsPerAggregate, streams: options.aggregates }
    await populateJournal(journal, many)
    const manyIds = Array.from({ length: options.aggregates }, (_, i) => `cart-${String(i).padStart(6, '0')}`)
    // The big aggregate is the one cart of a one-stream workload, renamed.
    const bigId = 'big-cart'
    await populateJournal(
      journal,
      { commands: options.bigAggregateEvents, streams: 1 },
      { mapId: () => bigId },
    )

    const build = (snapshots: SnapshotStore | undefined) => {
      const builder = CqrsPattern.builder({ journal })
        .withAggregate(probedCart)
        .repositoryTimeout(300_000)
        .recoveryPermits(Math.max(8, Math.min(options.concurrency, 64)))
        .passivation({ maxLive: Math.max(100_000, options.aggregates * 2) })
        .logger(silentLogger)
      if (snapshots) builder.snapshotStore(snapshots).snapshotPolicy({ every: 1000 })
      return builder.build().materialize()
    }

    // Without snapshots: bring everything in once (warm-up), passivate, then time bringing it back.
    const plain = await build(undefined)
    await touchAll(plain, manyIds, options.concurrency)
    passivateAll(plain, manyIds)
    const manyNoSnapshotMs = await touchAll(plain, manyIds, options.concurrency)
    await touchAll(plain, [bigId], 1)
    const bigNoSnapshot: number[] = []
    for (let r = 0; r < options.repetitions; r++) {
      passivateAll(plain, [bigId])
      bigNoSnapshot.push(await touchAll(plain, [bigId], 1))
    }
    await plain.stop()

    // With snapshots: the first pass replays the journal; passivating snapshots each aggregate.
    const counting = countingStore(storage.sqlite.snapshotStore)
    const snap = await build(counting.store)
    await touchAll(snap, manyIds, options.concurrency)
    passivateAll(snap, manyIds)
    await counting.settled()
    counting.resetHits()
    const manySnapshotMs = await touchAll(snap, manyIds, options.concurrency)
    const manySnapshotHits = counting.hits()
    await touchAll(snap, [bigId], 1)
    passivateAll(snap, [bigId])
    await counting.settled()
    const bigSnapshot: number[] = []
    for (let r = 0; r < options.repetitions; r++) {
      bigSnapshot.push(await touchAll(snap, [bigId], 1))
      passivateAll(snap, [bigId])
    }
    await snap.stop()
    return {
      aggregates: options.aggregates,
      eventsPerAggregate: options.eventsPerAggregate,
      bigAggregateEvents: options.bigAggregateEvents,
      manyNoSnapshotMs,
      manySnapshotMs,
      manySnapshotHits,
      bigNoSnapshotMs: median(bigNoSnapshot),
      bigSnapshotMs: median(bigSnapshot),
    }
  } finally {
    await storage.close()
  }
}
