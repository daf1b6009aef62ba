import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { CqrsPattern, defineReader, silentLogger } from '@statesource/core'
import { openSqlite } from '@statesource/sqlite'
import { openBenchStorage } from '../bench-storage.ts'
import { cart } from '../cart-aggregate.ts'
import { RESULT_PREFIX } from '../child-protocol.ts'
import { driveOpenLoop } from '../command-driver.ts'
import type { SqliteSynchronous } from '../sqlite-settings.ts'

/** Options of {@link runCatchup}. */
export interface CatchupOptions {
  /** A journal of cart events (the scale run's), read by a new reader from the start. */
  readonly file: string
  readonly synchronous: SqliteSynchronous
}

/** What {@link runCatchup} measured. */
export interface CatchupResult {
  readonly events: number
  readonly seconds: number
  readonly eventsPerSec: number
  /**
   * Events per second of CPU time of the process (all its threads): the rate a machine with a core to spare
   * reaches; on a loaded machine it stays put while `eventsPerSec` drops.
   */
  readonly eventsPerCpuSec: number
  /** Mean bytes of payload JSON per event. */
  readonly payloadBytes: number
}

/**
 * Catch-up of one reader over a whole journal of cart events (~220 B of JSON each): a reader that folds the
 * quantities of every `ProductItemAdded` starts from offset 0 in a fresh process; timed until it has applied
 * the journal's head.
 *
 * @example
 * ```ts
 * const r = await runCatchup({ file: '/tmp/scale.db', synchronous: 'FULL' })
 * ```
 */
export async function runCatchup(options: CatchupOptions): Promise<CatchupResult> {
  const storage = await openBenchStorage(options.file, options.synchronous)
  try {
    const db = storage.sqlite.db!
    const events = db.prepare('SELECT count(*) FROM statesource_journal').pluck().get() as number
    const payloadBytes = db
      .prepare('SELECT avg(length(payload)) FROM statesource_journal')
      .pluck()
      .get() as number
    const readJournal = storage.sqlite.readJournal()
    const head = await readJournal.highestOrdering()
    const builder = CqrsPattern.builder({ journal: storage.sqlite.journal })
      .withAggregate(cart)
      .readJournal(readJournal)
      .logger(silentLogger)
    const items = builder.withReader(
      defineReader({
        name: 'items',
        initialState: 0,
        apply: (n: number, event) =>
          n + ('productItem' in event ? ((event.productItem as { quantity?: number }).quantity ?? 0) : 0),
      }),
    )
    const started = performance.now()
    const cpuBefore = process.cpuUsage()
    const handles = await builder.build().materialize()
    await items.waitForOffset(head, { timeout: 600_000 })
    const seconds = (performance.now() - started) / 1000
    const cpu = process.cpuUsage(cpuBefore)
    await handles.stop()
    if (!(items.state > 0)) throw new Error('The catch-up reader folded nothing.')
    return {
      events,
      seconds,
      eventsPerSec: events / seconds,
      eventsPerCpuSec: events / ((cpu.user + cpu.system) / 1e6),
      payloadBytes,
    }
  } finally {
    await storage.close()
  }
}

/** Options of {@link runLagUnderLoad}. */
export interface LagOptions {
  readonly dir: string
  readonly synchronous: SqliteSynchronous
  /** Commands of the write load (open loop, cart workload round-robin over `streams`). */
  readonly commands: number
  readonly streams: number
  /** The write load's rate. */
  readonly perSec: number
  /** Poll interval of the second process's read journal. */
  readonly pollIntervalMs: number
  /** Warm-up commands before the load. Default 2,000. */
  readonly warmUp?: number
}

/** Lag percentiles of one subscriber, in milliseconds. */
export interface LagStats {
  readonly events: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxMs: number
}

/** What {@link runLagUnderLoad} measured. */
export interface LagResult {
  readonly perSec: number
  readonly achievedPerSec: number
  readonly sameProcess: LagStats
  readonly secondProcess: LagStats
  readonly pollIntervalMs: number
}

const CHILD = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../child.ts')

type Delivery = [ordering: number, at: number]

/** Epoch milliseconds with sub-millisecond precision, comparable across threads and processes. */
const epochNow = () => performance.timeOrigin + performance.now()

function lagStats(
  deliveries: readonly Delivery[],
  commits: readonly { lastOrdering: number; committedAt: number }[],
): LagStats {
  const sorted = [...deliveries].sort((a, b) => a[0] - b[0])
  const lags: number[] = []
  let cursor = 0
  for (const [ordering, at] of sorted) {
    while (cursor < commits.length && commits[cursor]!.lastOrdering < ordering) cursor++
    const commit = commits[cursor]
    if (commit) lags.push(Math.max(0, at - commit.committedAt))
  }
  lags.sort((a, b) => a - b)
  const q = (p: number) => lags[Math.min(lags.length - 1, Math.floor(p * lags.length))] ?? Number.NaN
  return { events: lags.length, p50Ms: q(0.5), p99Ms: q(0.99), maxMs: lags[lags.length - 1] ?? Number.NaN }
}

/**
 * Lag from commit to subscriber while statesource takes a write load: the cart workload sent open loop at
 * `perSec`, while one subscriber in the same process (the read journal's `allEvents`, woken by the journal's
 * commits) and one in a second process (its own connection, polling every `pollIntervalMs`) receive every
 * event. The clock of each event starts when the writer thread committed its transaction (the journal's
 * `commits` signal, stamped by that thread) and stops when the subscriber receives it.
 *
 * @example
 * ```ts
 * const r = await runLagUnderLoad({ dir: '/tmp/x', synchronous: 'FULL', commands: 20_000, streams: 1_000, perSec: 10_000, pollIntervalMs: 10 })
 * ```
 */
export async function runLagUnderLoad(options: LagOptions): Promise<LagResult> {
  const file = path.join(options.dir, 'lag.db')
  const storage = await openBenchStorage(file, options.synchronous)
  const handles = await CqrsPattern.builder({ journal: storage.sqlite.journal })
    .withAggregate(cart)
    .repositoryTimeout(300_000)
    .logger(silentLogger)
    .build()
    .materialize()
  const carts = handles.repository(cart)
  try {
    // Warm the path first, outside the measurement (the driver's own warm-up runs before the clock, too).
    const start = await storage.sqlite.readJournal().highestOrdering()
    const poller = startPoller(file, options.pollIntervalMs, options.commands)
    await poller.ready
    const commits: { lastOrdering: number; committedAt: number }[] = []
    const commitSub = storage.sqlite.journal.commits.subscribe((c) => commits.push(c))
    const local: Delivery[] = []
    const localSub = storage.sqlite
      .readJournal()
      .allEvents(start)
      .subscribe((event) => {
        if (!event.persistenceId.includes('warm-')) local.push([event.ordering, epochNow()])
      })
    const load = await driveOpenLoop(
      {
        commands: options.commands,
        streams: options.streams,
        ...(options.warmUp === undefined ? {} : { warmUp: options.warmUp }),
      },
      options.perSec,
      async (cartId, command) => {
        const reply = await carts.send(cartId, command)
        return { events: reply.events.length, version: reply.version }
      },
    )
    const remote = await poller.result
    while (local.length < options.commands) await new Promise((resolve) => setTimeout(resolve, 5))
    localSub.unsubscribe()
    commitSub.unsubscribe()
    return {
      perSec: options.perSec,
      achievedPerSec: load.achievedPerSec,
      sameProcess: lagStats(local, commits),
      secondProcess: lagStats(remote, commits),
      pollIntervalMs: options.pollIntervalMs,
    }
  } finally {
    await handles.stop()
    await storage.close()
  }
}

/** Starts the second process; `ready` once it is subscribed, `result` with what it received. */
function startPoller(file: string, pollIntervalMs: number, expected: number) {
  const child = spawn(
    process.execPath,
    [
      '--conditions=@statesource/source',
      '--import',
      'tsx',
      CHILD,
      'lag-poller',
      JSON.stringify({ file, pollIntervalMs, expected }),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let stdout = ''
  let stderr = ''
  let onReady: () => void = () => {}
  const ready = new Promise<void>((resolve) => {
    onReady = resolve
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
    if (stderr.includes('POLLER READY')) onReady()
  })
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
  })
  const result = new Promise<Delivery[]>((resolve, reject) => {
    child.on('close', (code) => {
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX))
      if (code !== 0 || !line)
        reject(new Error(`The polling reader process failed (exit ${code}): ${stderr.slice(-1500)}`))
      else resolve(JSON.parse(line.slice(RESULT_PREFIX.length)) as Delivery[])
    })
  })
  result.catch(() => onReady())
  return { ready, result }
}

/**
 * The second process of {@link runLagUnderLoad}: its own connection to the file, a polling read journal,
 * every event after the current head received with its arrival time, until `expected` arrived.
 *
 * @example
 * ```ts
 * const deliveries = await runLagPoller({ file: '/tmp/x/lag.db', pollIntervalMs: 10, expected: 1_000 })
 * ```
 */
export async function runLagPoller(options: {
  file: string
  pollIntervalMs: number
  expected: number
}): Promise<Delivery[]> {
  const sqlite = await openSqlite(options.file, { synchronous: 'FULL', writer: 'inline' })
  try {
    const readJournal = sqlite.readJournal({ pollIntervalMs: options.pollIntervalMs, pageSize: 1000 })
    const start = await readJournal.highestOrdering()
    const deliveries: Delivery[] = []
    // The read journal's poll timer does not keep a process alive; this does, until every event arrived.
    const keepAlive = setInterval(() => {}, 1000)
    await new Promise<void>((resolve, reject) => {
      const sub = readJournal.allEvents(start).subscribe({
        next: (event) => {
          if (event.persistenceId.includes('warm-')) return
          deliveries.push([event.ordering, epochNow()])
          if (deliveries.length >= options.expected) {
            sub.unsubscribe()
            resolve()
          }
        },
        error: reject,
      })
      console.error('POLLER READY')
    }).finally(() => clearInterval(keepAlive))
    return deliveries
  } finally {
    await sqlite.close()
  }
}
