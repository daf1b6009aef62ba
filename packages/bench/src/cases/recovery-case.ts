import {
  type AppendRequest,
  CqrsPattern,
  type Journal,
  type SnapshotStore,
  type StoredSnapshot,
  silentLogger,
} from '@statesource/core'
import { openBenchStorage } from '../bench-storage.ts'
import { probedCart } from '../cart-aggregate.ts'
import type { SqliteSynchronous } from '../sqlite-settings.ts'
import { eventAt } from './populate-journal.ts'

/** Options of {@link prepareRecovery}: the journal the cold-recovery processes read. */
export interface RecoveryPrepOptions {
  /** The SQLite file to create. */
  readonly file: string
  readonly synchronous: SqliteSynchronous
  /** Events of the big aggregate covered by its snapshot (a multiple of `snapshotEvery`). Default 100,000. */
  readonly bigEvents: number
  /** Events after its last snapshot: the worst tail is `snapshotEvery - 1`. Default 999. */
  readonly bigTail: number
  readonly snapshotEvery: number
  /** Passivated aggregates with snapshots and tails. Default 10,000. */
  readonly aggregates: number
  /** Events of each before its snapshot. Default 20. */
  readonly eventsPerAggregate: number
  /** The longest tail after their snapshots (tails run 1 .. this). Default 19. */
  readonly maxTail: number
}

/** Options of {@link runColdRecovery}. */
export interface ColdRecoveryOptions {
  readonly file: string
  readonly synchronous: SqliteSynchronous
  /** `big`: the big aggregate from its snapshot; `big-no-snapshot`: the same replaying its whole journal; `many`: every passivated aggregate. */
  readonly target: 'big' | 'big-no-snapshot' | 'many'
  readonly aggregates: number
  readonly concurrency: number
}

/** What one cold-recovery process measured. */
export interface ColdRecoveryResult {
  readonly target: ColdRecoveryOptions['target']
  /** Opening the database and building the gateway (not part of `ms`). */
  readonly openMs: number
  /** From the first command sent to the last reply: recovery plus one no-op command each. */
  readonly ms: number
  readonly aggregates: number
  readonly snapshotHits: number
  readonly eventsReplayed: number
}

const BIG_ID = 'big-cart'
const manyId = (k: number) => `cart-${String(k).padStart(6, '0')}`

/** Appends events `from .. to - 1` of a cart's round-robin workload (only adds: no confirmation). */
async function appendRounds(
  journal: Journal,
  ids: readonly string[],
  fromRound: number,
  toRound: number,
  perCart: (k: number) => number = () => toRound,
) {
  const size = { commands: Number.MAX_SAFE_INTEGER, streams: ids.length }
  for (let round = fromRound; round < toRound; round++) {
    let requests: AppendRequest[] = []
    for (let k = 0; k < ids.length; k++) {
      if (round >= perCart(k)) continue
      const { event } = eventAt(round * ids.length + k, size, () => ids[k]!)
      requests.push({
        persistenceId: probedCart.persistenceId(ids[k]!),
        expectedSeqNr: round,
        events: [event],
      })
      if (requests.length === 2_000) {
        await appendAll(journal, requests)
        requests = []
      }
    }
    await appendAll(journal, requests)
  }
}

async function appendAll(journal: Journal, requests: AppendRequest[]): Promise<void> {
  if (requests.length === 0) return
  for (const outcome of await journal.append(requests)) if (!outcome.ok) throw outcome.error
}

/** Appends `count` events to one stream after `from`, 1,000 per request. */
async function appendToOne(journal: Journal, id: string, from: number, count: number): Promise<void> {
  const size = { commands: Number.MAX_SAFE_INTEGER, streams: 1 }
  for (let at = from; at < from + count; at += 1000) {
    const events = []
    for (let i = at; i < Math.min(from + count, at + 1000); i++) events.push(eventAt(i, size, () => id).event)
    await appendAll(journal, [{ persistenceId: probedCart.persistenceId(id), expectedSeqNr: at, events }])
  }
}

/** A snapshot store wrapper that counts load hits and waits for pending saves. */
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
    settled: async () => {
      while (pending > 0) await new Promise((resolve) => setImmediate(resolve))
    },
  }
}

/**
 * A journal wrapper that counts the events recovery reads: `replay`, and `readForRecovery` where the journal
 * has it (its `events`). Every other method goes to the journal itself.
 */
function countingJournal(inner: Journal) {
  let replayed = 0
  const count = (events: readonly unknown[] | undefined) => {
    replayed += events?.length ?? 0
  }
  const journal = new Proxy(inner, {
    get(target, key) {
      const value = Reflect.get(target, key, target) as unknown
      if (typeof value !== 'function') return value
      if (key === 'replay') {
        return async (...args: unknown[]) => {
          const events = (await value.apply(target, args)) as unknown[]
          count(events)
          return events
        }
      }
      if (key === 'readForRecovery') {
        return async (...args: unknown[]) => {
          const read = (await value.apply(target, args)) as { events?: unknown[] }
          count(read?.events)
          return read
        }
      }
      return value.bind(target)
    },
  })
  return { journal, replayed: () => replayed }
}

function gateway(
  journal: Journal,
  snapshots: SnapshotStore | undefined,
  options: { every: number; maxLive: number },
) {
  const builder = CqrsPattern.builder({ journal })
    .withAggregate(probedCart)
    .repositoryTimeout(600_000)
    .recoveryPermits(64)
    .passivation({ maxLive: options.maxLive })
    .logger(silentLogger)
  if (snapshots) builder.snapshotStore(snapshots).snapshotPolicy({ every: options.every })
  return builder.build().materialize()
}

async function touchAll(
  handles: Awaited<ReturnType<typeof gateway>>,
  ids: readonly string[],
  concurrency: number,
) {
  const carts = handles.repository(probedCart)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(concurrency, ids.length) }, async () => {
      while (next < ids.length) await carts.send(ids[next++]!, { type: 'Touch' })
    }),
  )
}

/**
 * Builds the journal of the cold-recovery measurements (not timed): one big aggregate whose newest snapshot
 * covers `bigEvents` events, followed by `bigTail` more; and `aggregates` aggregates of
 * `eventsPerAggregate` events, each snapshotted on passivation, then given a tail of 1 to `maxTail` events.
 * Snapshots are written by statesource itself (a gateway with `snapshotPolicy({ every })`, passivation).
 *
 * @example
 * ```ts
 * await prepareRecovery({ file: '/tmp/r.db', synchronous: 'FULL', bigEvents: 10_000, bigTail: 999, snapshotEvery: 1000, aggregates: 100, eventsPerAggregate: 20, maxTail: 19 })
 * ```
 */
export async function prepareRecovery(options: RecoveryPrepOptions): Promise<{ events: number }> {
  const storage = await openBenchStorage(options.file, options.synchronous)
  try {
    const journal = storage.sqlite.journal
    await appendToOne(journal, BIG_ID, 0, options.bigEvents)
    const ids = Array.from({ length: options.aggregates }, (_, k) => manyId(k))
    await appendRounds(journal, ids, 0, options.eventsPerAggregate)
    const counting = countingStore(storage.sqlite.snapshotStore)
    const handles = await gateway(journal, counting.store, {
      every: options.snapshotEvery,
      maxLive: options.aggregates * 2,
    })
    // Bringing them in and passivating them writes a snapshot at each one's head.
    await touchAll(handles, [BIG_ID, ...ids], 100)
    for (const id of [BIG_ID, ...ids]) handles.runtime.passivateNow(probedCart.persistenceId(id))
    await counting.settled()
    await handles.stop()
    await appendToOne(journal, BIG_ID, options.bigEvents, options.bigTail)
    const tailOf = (k: number) => options.eventsPerAggregate + 1 + ((k * 7) % options.maxTail)
    await appendRounds(
      journal,
      ids,
      options.eventsPerAggregate,
      options.eventsPerAggregate + options.maxTail,
      tailOf,
    )
    return { events: storage.countEvents() }
  } finally {
    await storage.close()
  }
}

/**
 * Cold recovery, in a fresh process (the runner starts one per target): opens the prepared file, builds a
 * gateway with the snapshot store (none for `big-no-snapshot`) and times the first command to the big
 * aggregate, or to every passivated aggregate (`concurrency` in flight). The operating system's page
 * cache may still hold the file: the process is cold, the disk cache is not cleared.
 *
 * @example
 * ```ts
 * const r = await runColdRecovery({ file: '/tmp/r.db', synchronous: 'FULL', target: 'big', aggregates: 100, concurrency: 100 })
 * ```
 */
export async function runColdRecovery(options: ColdRecoveryOptions): Promise<ColdRecoveryResult> {
  const opened = performance.now()
  const storage = await openBenchStorage(options.file, options.synchronous)
  try {
    const counting = countingStore(storage.sqlite.snapshotStore)
    const journal = countingJournal(storage.sqlite.journal)
    const handles = await gateway(
      journal.journal,
      options.target === 'big-no-snapshot' ? undefined : counting.store,
      {
        every: 1_000_000_000,
        maxLive: options.aggregates * 2,
      },
    )
    const ids =
      options.target === 'many' ? Array.from({ length: options.aggregates }, (_, k) => manyId(k)) : [BIG_ID]
    const started = performance.now()
    await touchAll(handles, ids, options.concurrency)
    const ms = performance.now() - started
    await handles.stop()
    return {
      target: options.target,
      openMs: started - opened,
      ms,
      aggregates: ids.length,
      snapshotHits: counting.hits(),
      eventsReplayed: journal.replayed(),
    }
  } finally {
    await storage.close()
  }
}
