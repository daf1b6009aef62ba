import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import type { AppendRequest, NewEvent } from '@statesource/core'
import type { Subscription } from 'rxjs'
import { openSqlite, type SqliteSynchronous, type StatesourceSqlite } from '../src/index.ts'

/** Options of {@link runJournalBench}. */
export interface JournalBenchOptions {
  /** Events per measured side. Default 30 000. */
  events?: number
  /** Streams the events are spread over (round robin). Default 1000. */
  streams?: number
  /** Appends in flight on the journal side. Default 100. */
  inFlight?: number
  /** Rows per transaction on the raw side. Default 1000. */
  rawBatch?: number
  /** Same on both sides. Default `'FULL'`. */
  synchronous?: SqliteSynchronous
  /** Same on both sides. Default 1000 (SQLite's default). */
  walAutocheckpoint?: number
  /** Events written while measuring live-read lag. Default 5000. */
  lagEvents?: number
  /** Alternating raw/journal rounds; the medians are reported. Default 3. */
  rounds?: number
  /** Directory for the scratch databases. Default: the OS temp dir. */
  dir?: string
}

/** What {@link runJournalBench} measured. */
export interface JournalBenchResult {
  raw_rows_per_s: number
  journal_rows_per_s: number
  journal_append_vs_raw: number
  live_lag_p50_ms: number
  live_lag_p99_ms: number
  /** Group-commit transactions of the journal side and their mean size. */
  journal_transactions: number
  journal_mean_batch: number
  /** Rows per second of each round. */
  rounds: { raw_rows_per_s: number; journal_rows_per_s: number }[]
}

const NOTE = 'lorem ipsum dolor sit amet consectetur adipiscing elit'

const payloadOf = (i: number, pid: string) => ({
  cartId: pid,
  productId: `prod-${(i * 7919) % 100_000}`,
  quantity: (i % 5) + 1,
  unitPrice: (i % 1000) + 0.99,
  currency: 'EUR',
  addedBy: `user-${i % 997}`,
  note: NOTE,
})

const pidOf = (stream: number) => `cart|${String(stream).padStart(6, '0')}`

const median = (values: readonly number[]) =>
  percentile(
    [...values].sort((a, b) => a - b),
    50,
  )

const percentile = (sorted: readonly number[], p: number) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!

/**
 * Journal append throughput against raw better-sqlite3 batched inserts of the same rows, on WAL files
 * with the same pragmas, plus the live-read lag from commit to an in-process subscriber.
 *
 * @example
 * ```ts
 * const result = await runJournalBench({ events: 20_000 })
 * console.log(result.journal_append_vs_raw)
 * ```
 */
export async function runJournalBench(options: JournalBenchOptions = {}): Promise<JournalBenchResult> {
  const events = options.events ?? 30_000
  const streams = options.streams ?? 1000
  const inFlight = options.inFlight ?? 100
  const rawBatch = options.rawBatch ?? 1000
  const synchronous = options.synchronous ?? 'FULL'
  const walAutocheckpoint = options.walAutocheckpoint ?? 1000
  const lagEvents = options.lagEvents ?? 5000
  const rounds = Math.max(1, options.rounds ?? 3)
  const dir = fs.mkdtempSync(path.join(options.dir ?? os.tmpdir(), 'statesource-bench-'))
  const settings = { synchronous, walAutocheckpoint, busyTimeoutMs: 5000 }

  // (1) raw better-sqlite3: the same journal rows, cached statement, `rawBatch` rows per transaction.
  const rawRound = async (file: string): Promise<number> => {
    const rawSqlite = await openSqlite(file, settings)
    const db = rawSqlite.db!
    const insert = db.prepare(
      `INSERT INTO statesource_journal (persistence_id, seq_nr, event_type, event_version, payload, metadata, tags, written_at, writer_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    const insertMany = db.transaction((from: number, to: number, firstStream: number) => {
      const now = Date.now()
      for (let i = from; i < to; i++) {
        const pid = pidOf(firstStream + (i % streams))
        const seqNr = Math.floor(i / streams) + 1
        insert.run(pid, seqNr, 'item-added', 1, JSON.stringify(payloadOf(i, pid)), '{}', '[]', now, 'raw')
      }
    })
    const warm = 1000
    for (let i = 0; i < warm; i += rawBatch) insertMany(i, Math.min(warm, i + rawBatch), 10_000_000)
    const t0 = performance.now()
    for (let i = 0; i < events; i += rawBatch) insertMany(i, Math.min(events, i + rawBatch), 0)
    const seconds = (performance.now() - t0) / 1000
    await rawSqlite.close()
    return seconds
  }

  // (2) the journal: `inFlight` concurrent appenders, each owning a set of streams (no conflicts).
  const journalRound = async (sqlite: StatesourceSqlite) => {
    const seqs = new Map<string, number>()
    const appendOne = async (stream: number, i: number, tags: string[]) => {
      const pid = pidOf(stream)
      const expectedSeqNr = seqs.get(pid) ?? 0
      const event: NewEvent = {
        type: 'item-added',
        version: 1,
        payload: payloadOf(i, pid),
        tags,
        metadata: {},
      }
      const request: AppendRequest = { persistenceId: pid, expectedSeqNr, events: [event] }
      const [outcome] = await sqlite.journal.append([request])
      if (!outcome?.ok) throw outcome?.error ?? new Error('no outcome')
      seqs.set(pid, expectedSeqNr + 1)
    }
    const drive = async (count: number, firstStream: number, tags: string[] = []) => {
      let next = 0
      const owned = Math.ceil(streams / inFlight)
      await Promise.all(
        Array.from({ length: inFlight }, async (_, worker) => {
          // Worker w owns the streams w, w + inFlight, ... so one stream never has two appends in flight.
          for (let k = 0; ; k++) {
            const i = next++
            if (i >= count) return
            await appendOne(firstStream + ((worker + (k % owned) * inFlight) % streams), i, tags)
          }
        }),
      )
    }
    await drive(1000, 10_000_000)
    const before = sqlite.journal.stats
    const t0 = performance.now()
    await drive(events, 0)
    const seconds = (performance.now() - t0) / 1000
    return { seconds, transactions: sqlite.journal.stats.transactions - before.transactions, drive }
  }

  try {
    // Rounds alternate raw and journal on fresh files, so drift on a shared machine hits both sides.
    const raws: number[] = []
    const journals: number[] = []
    const ratios: number[] = []
    let transactions = 0
    let last: StatesourceSqlite | undefined
    let drive: ((count: number, firstStream: number, tags?: string[]) => Promise<void>) | undefined
    for (let round = 0; round < rounds; round++) {
      await last?.close()
      const rawRate = events / (await rawRound(path.join(dir, `raw-${round}.db`)))
      last = await openSqlite(path.join(dir, `journal-${round}.db`), settings)
      const measured = await journalRound(last)
      const journalRate = events / measured.seconds
      raws.push(rawRate)
      journals.push(journalRate)
      ratios.push(journalRate / rawRate)
      transactions += measured.transactions
      drive = measured.drive
    }
    const sqlite = last!

    // (3) live-read lag: from the commit of an event's transaction (`committedAt` of the journal's `commits`
    // signal, stamped by the thread that committed) to its delivery through eventsByTag. A reader may see an
    // event before the signal of its transaction reaches this thread, so the two are matched afterwards.
    const commits: { lastOrdering: number; committedAt: number }[] = []
    const commitSub: Subscription = sqlite.journal.commits.subscribe((c) => commits.push(c))
    const delivered: { ordering: number; at: number }[] = []
    const start = await sqlite.readJournal().highestOrdering()
    const seen = new Promise<void>((resolve, reject) => {
      const sub = sqlite
        .readJournal({ pollIntervalMs: 1000 })
        .eventsByTag('bench-lag', start)
        .subscribe({
          next: (event) => {
            delivered.push({ ordering: event.ordering, at: performance.timeOrigin + performance.now() })
            if (delivered.length >= lagEvents) {
              sub.unsubscribe()
              resolve()
            }
          },
          error: reject,
        })
    })
    await drive!(lagEvents, 20_000_000, ['bench-lag'])
    await seen
    commitSub.unsubscribe()
    await sqlite.close()
    const lags: number[] = []
    let cursor = 0
    for (const { ordering, at } of delivered) {
      while (cursor < commits.length && commits[cursor]!.lastOrdering < ordering) cursor++
      const commit = commits[cursor]
      if (!commit) throw new Error(`No commit was signalled for the event at ordering ${ordering}.`)
      lags.push(at - commit.committedAt)
    }

    lags.sort((a, b) => a - b)
    return {
      raw_rows_per_s: Math.round(median(raws)),
      journal_rows_per_s: Math.round(median(journals)),
      journal_append_vs_raw: Number(median(ratios).toFixed(3)),
      live_lag_p50_ms: Number(percentile(lags, 50).toFixed(2)),
      live_lag_p99_ms: Number(percentile(lags, 99).toFixed(2)),
      journal_transactions: Math.round(transactions / rounds),
      journal_mean_batch: Number(((events * rounds) / Math.max(1, transactions)).toFixed(1)),
      rounds: raws.map((raw, i) => ({
        raw_rows_per_s: Math.round(raw),
        journal_rows_per_s: Math.round(journals[i]!),
      })),
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1]
  const number = (name: string) => (arg(name) === undefined ? undefined : Number(arg(name)))
  const options: JournalBenchOptions = {}
  for (const key of [
    'events',
    'streams',
    'inFlight',
    'rawBatch',
    'walAutocheckpoint',
    'lagEvents',
  ] as const) {
    const value = number(key)
    if (value !== undefined) options[key] = value
  }
  const sync = arg('synchronous')
  if (sync === 'FULL' || sync === 'NORMAL') options.synchronous = sync
  const result = await runJournalBench(options)
  console.log(
    `raw better-sqlite3 (batches of ${options.rawBatch ?? 1000}): ${result.raw_rows_per_s.toLocaleString('en')} rows/s`,
  )
  console.log(
    `journal append (group commit, ${options.inFlight ?? 100} in flight): ${result.journal_rows_per_s.toLocaleString('en')} rows/s in ${result.journal_transactions} transactions (mean ${result.journal_mean_batch})`,
  )
  console.log(`journal / raw: ${(result.journal_append_vs_raw * 100).toFixed(1)} %`)
  console.log(
    `live-read lag (commit -> eventsByTag subscriber): p50 ${result.live_lag_p50_ms} ms, p99 ${result.live_lag_p99_ms} ms`,
  )
  console.log(JSON.stringify(result))
}
