/**
 * PostgreSQL benchmarks: the cart workload through statesource on PostgreSQL, through Emmett's PostgreSQL
 * event store, and raw `pg` inserts of the same rows at the same rows per transaction; at 1, 10, 100 and
 * 1,000 commands in flight, with one writer process and (at 100 in flight) four.
 *
 * Durability on every side: each side's commit is a PostgreSQL COMMIT with the server's settings, which are
 * reported (`fsync`, `synchronous_commit`); statesource and raw commit a batch per transaction, Emmett one
 * command per transaction (its documented behaviour).
 */
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { CommandHandler, type Event } from '@event-driven-io/emmett'
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql'
import { CqrsPattern, silentLogger } from '@statesource/core'
import { openPostgres } from '@statesource/postgres'
import pg from 'pg'
import { cart } from '../cart-aggregate.ts'
import {
  addItem,
  type CartCommand,
  type CartEvent,
  commandAt,
  decideCart,
  type WorkloadSize,
} from '../cart-workload.ts'
import { RESULT_PREFIX } from '../child-protocol.ts'

/** The sides of the PostgreSQL comparison. */
export type PostgresSide = 'statesource' | 'emmett' | 'raw'

/** Options of {@link runPostgresCase} (one process of one configuration). */
export interface PostgresCaseOptions extends WorkloadSize {
  readonly side: PostgresSide
  /** The server; for Emmett, the database created for this configuration. */
  readonly url: string
  /** statesource's schema (created beforehand). */
  readonly schema: string
  readonly concurrency: number
  /** Prefix of this process's cart ids, so that several processes write disjoint carts. */
  readonly prefix: string
  /** Raw only: rows per transaction (default `concurrency`); the runner passes statesource's measured figure. */
  readonly rowsPerTransaction?: number
}

/** What one process of one configuration measured. */
export interface PostgresCaseResult {
  readonly ok: number
  readonly errors: number
  readonly errorKinds: readonly string[]
  readonly seconds: number
  readonly commandsPerSec: number
  readonly p50Ms: number
  readonly p99Ms: number
  /** Transactions of the timed run (after the warm-up): statesource's batches, one per command for Emmett. */
  readonly transactions: number
}

// Emmett's side of the cart workload: the same decide/evolve as emmett-case.ts (SQLite).
type EmmettCartEvent = {
  [K in CartEvent['type']]: Event<K, Omit<Extract<CartEvent, { type: K }>, 'type'>>
}[CartEvent['type']]
interface EmmettCart {
  readonly status: 'Empty' | 'Opened' | 'Confirmed'
  readonly items: number
  readonly total: number
}
const emmettHandle = CommandHandler<EmmettCart, EmmettCartEvent>({
  evolve: (state, event) =>
    event.type === 'ProductItemAdded'
      ? { status: 'Opened', ...addItem(state, event.data.productItem) }
      : { ...state, status: 'Confirmed' },
  initialState: () => ({ status: 'Empty', items: 0, total: 0 }),
})
function emmettDecide(command: CartCommand, state: EmmettCart, cartId: string): EmmettCartEvent[] {
  const decision = decideCart(command, cartId, state.status, state)
  if ('rejected' in decision) throw new Error(decision.rejected)
  return decision.map(({ type, ...data }) => ({ type, data }) as EmmettCartEvent)
}

/** Warm-up commands per process before the timed run (fewer than the SQLite cases: 1 in flight is slow). */
const WARM_UP_COMMANDS = 200

/**
 * Runs a short warm-up, then the timed workload with `concurrency` workers pulling from one queue (the same
 * commands as the shared driver's, see `commandAt`), timing each command.
 */
async function timed(
  options: PostgresCaseOptions,
  run: (cartId: string, command: CartCommand) => Promise<number>,
  onTimedStart: () => void = () => undefined,
): Promise<Omit<PostgresCaseResult, 'transactions'>> {
  // Each worker owns the carts with `cart index % concurrency === worker`, so one cart never has two commands
  // in flight (Emmett has no per-stream queue; a conflicting pair would only measure its retries).
  const pool = async (
    count: number,
    size: WorkloadSize,
    commandOf: (i: number) => { cartId: string; command: CartCommand },
    latencies?: number[],
  ) => {
    let ok = 0
    const errorKinds = new Set<string>()
    const queues: number[][] = Array.from({ length: options.concurrency }, () => [])
    for (let i = 0; i < count; i++) queues[(i % size.streams) % options.concurrency]!.push(i)
    await Promise.all(
      queues.map(async (queue) => {
        for (const i of queue) {
          const { cartId, command } = commandOf(i)
          const started = performance.now()
          try {
            await run(`${options.prefix}${cartId}`, command)
            ok++
            latencies?.push(performance.now() - started)
          } catch (error) {
            if (errorKinds.size < 3) errorKinds.add(String((error as Error)?.message ?? error).slice(0, 120))
          }
        }
      }),
    )
    return { ok, errorKinds: [...errorKinds] }
  }
  const warm = { commands: WARM_UP_COMMANDS, streams: Math.min(WARM_UP_COMMANDS, options.streams) }
  await pool(WARM_UP_COMMANDS, warm, (i) => {
    const { cartId, command } = commandAt(i, warm)
    return { cartId: `warm-${cartId}`, command }
  })
  const latencies: number[] = []
  onTimedStart()
  const started = performance.now()
  const { ok, errorKinds } = await pool(options.commands, options, (i) => commandAt(i, options), latencies)
  const seconds = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0
  return {
    ok,
    errors: options.commands - ok,
    errorKinds,
    seconds,
    commandsPerSec: ok / seconds,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
  }
}

/** One process of one configuration (run in a child process by {@link runPostgresBench}). */
export async function runPostgresCase(options: PostgresCaseOptions): Promise<PostgresCaseResult> {
  if (options.side === 'statesource') {
    const db = await openPostgres(options.url, {
      schema: options.schema,
      listen: false,
      poolSize: 10,
    })
    const handles = await CqrsPattern.builder({ journal: db.journal })
      .withAggregate(cart)
      .repositoryTimeout(120_000)
      .logger(silentLogger)
      .build()
      .materialize()
    try {
      const carts = handles.repository(cart)
      let before = 0
      const result = await timed(
        options,
        async (cartId, command) => (await carts.send(cartId, command)).events.length,
        () => {
          before = db.journal.stats.transactions
        },
      )
      return { ...result, transactions: db.journal.stats.transactions - before }
    } finally {
      await handles.stop()
      await db.close()
    }
  }
  if (options.side === 'emmett') {
    // Emmett's documented setup: getPostgreSQLEventStore(connectionString) with its own pool (pg's default of
    // 10 connections, like statesource's), and the schema migrated once before the store serves commands
    // (runConfiguration does it), so `autoMigration: 'None'`. With automatic migration every command's
    // session holds a connection while it waits for the store's first migration, which needs a connection
    // of its own: with as many commands in flight as connections, the pool never frees one (the stall seen
    // at 100 and 1,000 in flight). Commands beyond the pool's size wait for a connection in the pool's queue.
    const eventStore = getPostgreSQLEventStore(options.url, { schema: { autoMigration: 'None' } })
    try {
      const result = await timed(options, async (cartId, command) => {
        const outcome = await emmettHandle(eventStore, cartId, (state) =>
          emmettDecide(command, state, cartId),
        )
        return outcome.newEvents.length
      })
      return { ...result, transactions: result.ok }
    } finally {
      await eventStore.close()
    }
  }
  return runRaw(options)
}

/**
 * Raw `pg`: the journal rows statesource stores for the workload's commands (the same events, each row with
 * its own payload, metadata and tags JSON, encoded in the loop and sent as `text[]` cast per row, like
 * statesource's append), inserted with `unnest` in one statement per transaction of `concurrency` rows, one
 * transaction after the other, into a table with the journal's columns and indexes: the ceiling for any
 * design that commits that many rows per transaction. statesource also writes a tag row per event and a
 * stream row per command (its read-by-tag and concurrency-check indexes); raw writes neither.
 */
async function runRaw(options: PostgresCaseOptions): Promise<PostgresCaseResult> {
  const client = new pg.Client({ connectionString: options.url })
  await client.connect()
  const table = `"${options.schema}".raw_events`
  const writer = randomUUID()
  const perTransaction = Math.max(1, Math.round(options.rowsPerTransaction ?? options.concurrency))
  const latencies: number[] = []
  let rows = 0
  let transactions = 0
  const seq = new Map<string, number>()
  const started = performance.now()
  try {
    while (rows < options.commands) {
      const n = Math.min(perTransaction, options.commands - rows)
      const ids: string[] = []
      const seqs: number[] = []
      const types: string[] = []
      const payloads: string[] = []
      const metadata: string[] = []
      const tags: string[] = []
      for (let i = 0; i < n; i++) {
        const { cartId, command } = commandAt(rows + i, options)
        const decided = decideCart(command, cartId, 'Opened', { items: 0, total: 0 })
        const events = 'rejected' in decided ? [] : decided
        for (const { type, ...data } of events) {
          const id = `${options.prefix}${cartId}`
          const next = (seq.get(id) ?? 0) + 1
          seq.set(id, next)
          ids.push(id)
          seqs.push(next)
          types.push(type)
          payloads.push(JSON.stringify(data))
          metadata.push(JSON.stringify({ correlationId: randomUUID() }))
          tags.push(JSON.stringify(['aggregate:cart']))
        }
      }
      const t = performance.now()
      await client.query(
        `INSERT INTO ${table} (persistence_id, seq_nr, event_type, event_version, payload, metadata, tags, written_at, writer_id)
         SELECT p, s, t, 1, pl::json, m::json, tg::json, $7, $8
         FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[]) AS r(p, s, t, pl, m, tg)`,
        [ids, seqs, types, payloads, metadata, tags, Date.now(), writer],
      )
      latencies.push(performance.now() - t)
      rows += n
      transactions++
    }
  } finally {
    await client.end()
  }
  const seconds = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0
  return {
    ok: rows,
    errors: 0,
    errorKinds: [],
    seconds,
    commandsPerSec: rows / seconds,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    transactions,
  }
}

// ------------------------------------------------------------------------------------------ orchestration

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'child.ts')
const PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

/** One row of the PostgreSQL table: a side at a concurrency with a number of writer processes. */
export interface PostgresBenchRow {
  readonly side: PostgresSide
  readonly concurrency: number
  readonly processes: number
  readonly commands: number
  readonly commandsPerSec: number
  /** Commands (one event each) per transaction of the timed run: statesource's batch size; 1 for Emmett. */
  readonly rowsPerTransaction: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly errors: number
  readonly errorKinds: readonly string[]
}

/** What {@link runPostgresBench} returns: the rows, the server's durability settings and the four keys. */
export interface PostgresBenchRun {
  readonly server: string
  readonly durability: string
  readonly rows: readonly PostgresBenchRow[]
  readonly results: {
    readonly pg_cmds_per_s_100: number
    readonly pg_cmds_per_s_100_4proc: number
    readonly pg_e2e_vs_emmett: number
    readonly pg_e2e_vs_raw_same_rows: number
  }
}

const CHILD_TIMEOUT_MS = 180_000

function runChild(options: PostgresCaseOptions): Promise<PostgresCaseResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--conditions=@statesource/source', '--import', 'tsx', CHILD, 'postgres', JSON.stringify(options)],
      {
        cwd: PACKAGE_DIR,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    )
    // A process that neither finishes nor fails (a stuck client) is stopped and reported as failed.
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS)
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
    })
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      if (signal === 'SIGKILL') return reject(new Error(`timed out after ${CHILD_TIMEOUT_MS / 1000} s`))
      const line = out.split('\n').find((l) => l.startsWith(RESULT_PREFIX))
      if (code !== 0 || !line) reject(new Error(`postgres case ${options.side} exited with ${code}`))
      else resolve(JSON.parse(line.slice(RESULT_PREFIX.length)) as PostgresCaseResult)
    })
  })
}

async function admin<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<T>(text)).rows
  } finally {
    await client.end()
  }
}

/**
 * Prepares a fresh place for one configuration, runs its processes at once, and cleans up. Raw commits
 * `rowsPerTransaction` rows per transaction (default: one per command in flight).
 */
async function runConfiguration(
  url: string,
  side: PostgresSide,
  concurrency: number,
  processes: number,
  commands: number,
  rowsPerTransaction?: number,
): Promise<PostgresBenchRow> {
  const tag = randomUUID().replaceAll('-', '').slice(0, 10)
  const schema = `bench_${tag}`
  let caseUrl = url
  let cleanup: () => Promise<unknown>
  if (side === 'emmett') {
    const database = `bench_emmett_${tag}`
    await admin(url, `CREATE DATABASE ${database}`)
    const u = new URL(url)
    u.pathname = `/${database}`
    caseUrl = u.toString()
    // Its schema first, so that the writer processes do not race to create it.
    const store = getPostgreSQLEventStore(caseUrl)
    await store.schema.migrate()
    await store.close()
    cleanup = () => admin(url, `DROP DATABASE ${database} WITH (FORCE)`)
  } else {
    const db = await openPostgres(url, { schema, listen: false })
    if (side === 'raw') {
      await admin(
        url,
        `CREATE TABLE "${schema}".raw_events (ordering bigserial PRIMARY KEY, persistence_id text NOT NULL,
          seq_nr bigint NOT NULL, event_type text NOT NULL, event_version int NOT NULL, payload json NOT NULL,
          metadata json NOT NULL, tags json NOT NULL, written_at bigint NOT NULL, writer_id text NOT NULL,
          UNIQUE (persistence_id, seq_nr))`,
      )
    }
    await db.close()
    cleanup = () => admin(url, `DROP SCHEMA "${schema}" CASCADE`)
  }
  try {
    const streams = Math.max(concurrency, Math.floor(commands / 20))
    let results: PostgresCaseResult[]
    try {
      results = await Promise.all(
        Array.from({ length: processes }, (_, p) =>
          runChild({
            side,
            url: caseUrl,
            schema,
            concurrency,
            prefix: `p${p}-`,
            commands,
            streams,
            ...(rowsPerTransaction === undefined ? {} : { rowsPerTransaction }),
          }),
        ),
      )
    } catch (error) {
      const failed = { ok: 0, errors: commands, errorKinds: [(error as Error).message], seconds: 0 }
      results = [{ ...failed, commandsPerSec: 0, p50Ms: 0, p99Ms: 0, transactions: 0 }]
    }
    const ok = results.reduce((n, r) => n + r.ok, 0)
    const transactions = results.reduce((n, r) => n + r.transactions, 0)
    return {
      side,
      concurrency,
      processes,
      commands: commands * processes,
      // The processes run at the same time: their rates add up.
      commandsPerSec: results.reduce((n, r) => n + r.commandsPerSec, 0),
      rowsPerTransaction: transactions > 0 ? Math.round((ok / transactions) * 10) / 10 : 0,
      p50Ms: Math.max(...results.map((r) => r.p50Ms)),
      p99Ms: Math.max(...results.map((r) => r.p99Ms)),
      errors: commands * processes - ok,
      errorKinds: [...new Set(results.flatMap((r) => r.errorKinds))].slice(0, 3),
    }
  } finally {
    await cleanup()
  }
}

/**
 * Runs every PostgreSQL configuration against the server at `url`, one after the other.
 *
 * @example
 * ```ts
 * const run = await runPostgresBench({ url: 'postgres://postgres@127.0.0.1:5432/test', quick: true })
 * ```
 */
export async function runPostgresBench(options: {
  url: string
  quick?: boolean
  log?: (line: string) => void
}): Promise<PostgresBenchRun> {
  const { url } = options
  const log = options.log ?? (() => undefined)
  const scale = options.quick ? 0.25 : 1
  const commandsAt = (c: number) =>
    Math.round(scale * (c === 1 ? 400 : c === 10 ? 1_500 : c === 100 ? 5_000 : 10_000))
  const [version] = await admin<{ server_version: string }>(url, 'SHOW server_version')
  const [fsync] = await admin<{ fsync: string }>(url, 'SHOW fsync')
  const [syncCommit] = await admin<{ synchronous_commit: string }>(url, 'SHOW synchronous_commit')
  const rows: PostgresBenchRow[] = []
  // Raw runs after statesource at the rows per transaction statesource committed in that configuration (the
  // same rows at the same rows per transaction), not one row per command in flight, which statesource's
  // group commit never reaches: each batch holds what arrived while the previous one was committed.
  const configuration = async (concurrency: number, processes: number) => {
    const label = `${concurrency} in flight${processes > 1 ? `, ${processes} processes` : ''}`
    log(`postgres statesource at ${label}`)
    const statesource = await runConfiguration(
      url,
      'statesource',
      concurrency,
      processes,
      commandsAt(concurrency),
    )
    log(`postgres emmett at ${label}`)
    const emmett = await runConfiguration(url, 'emmett', concurrency, processes, commandsAt(concurrency))
    log(`postgres raw at ${label}`)
    const perTransaction = statesource.rowsPerTransaction > 0 ? statesource.rowsPerTransaction : concurrency
    const raw = await runConfiguration(
      url,
      'raw',
      concurrency,
      processes,
      commandsAt(concurrency),
      perTransaction,
    )
    rows.push(statesource, emmett, raw)
  }
  for (const concurrency of [1, 10, 100, 1_000]) await configuration(concurrency, 1)
  await configuration(100, 4)
  const find = (side: PostgresSide, processes: number) =>
    rows.find((r) => r.side === side && r.concurrency === 100 && r.processes === processes)!.commandsPerSec
  // A side that failed (0 commands/s) gives no ratio: NaN, shown as "n/a".
  const round = (n: number) => (Number.isFinite(n) ? Math.round(n * 100) / 100 : Number.NaN)
  return {
    server: `PostgreSQL ${version?.server_version}`,
    durability: `fsync=${fsync?.fsync}, synchronous_commit=${syncCommit?.synchronous_commit}`,
    rows,
    results: {
      pg_cmds_per_s_100: Math.round(find('statesource', 1)),
      pg_cmds_per_s_100_4proc: Math.round(find('statesource', 4)),
      pg_e2e_vs_emmett: round(find('statesource', 1) / find('emmett', 1)),
      pg_e2e_vs_raw_same_rows: round(find('statesource', 1) / find('raw', 1)),
    },
  }
}

/** The PostgreSQL section of the benchmark report, as markdown. */
export function formatPostgresTable(run: PostgresBenchRun): string {
  const n = (x: number) => Math.round(x).toLocaleString('en-US')
  const ms = (x: number) => x.toFixed(1)
  const lines = [
    `${run.server}, ${run.durability}. Cart workload (one event per command, ~220 B payload); raw = the same journal rows (each with its own JSON) inserted with \`unnest\`, at the rows per transaction statesource committed in the same configuration, one transaction at a time per process. statesource and raw commit a batch per transaction, Emmett one command per transaction. Latency: per command (raw: per transaction).`,
    '',
    '| side | in flight | processes | commands | commands/s | rows per transaction | p50 ms | p99 ms | errors |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...run.rows.map(
      (r) =>
        `| ${r.side} | ${n(r.concurrency)} | ${r.processes} | ${n(r.commands)} | ${n(r.commandsPerSec)} | ${r.rowsPerTransaction} | ${ms(r.p50Ms)} | ${ms(r.p99Ms)} | ${r.errors}${r.errorKinds.length ? ` (${r.errorKinds[0]})` : ''} |`,
    ),
    '',
    '| key | value |',
    '|---|---:|',
    ...Object.entries(run.results).map(
      ([key, value]) => `| \`${key}\` | ${Number.isNaN(value) ? 'n/a' : value.toLocaleString('en-US')} |`,
    ),
    '',
    `statesource at 100 in flight: ${n(run.results.pg_cmds_per_s_100)} commands/s (${Number.isNaN(run.results.pg_e2e_vs_emmett) ? 'n/a: Emmett failed at 100 in flight' : `${run.results.pg_e2e_vs_emmett}×`} Emmett on PostgreSQL, ${run.results.pg_e2e_vs_raw_same_rows} of raw \`pg\` at the same rows per transaction); with 4 writer processes: ${n(run.results.pg_cmds_per_s_100_4proc)} commands/s in total.`,
  ]
  return `${lines.join('\n')}\n`
}

const PG_MARKERS = { start: '<!-- postgres-bench:start -->', end: '<!-- postgres-bench:end -->' }

/** Writes the PostgreSQL section into `docsPath` (between its markers) and merges its keys into `jsonPath`. */
export function writePostgresReport(run: PostgresBenchRun, docsPath: string, jsonPath: string): void {
  const page = readFileSync(docsPath, 'utf8')
  const start = page.indexOf(PG_MARKERS.start)
  const end = page.indexOf(PG_MARKERS.end)
  const section = `${PG_MARKERS.start}\n${formatPostgresTable(run)}${PG_MARKERS.end}`
  writeFileSync(
    docsPath,
    start >= 0 && end > start
      ? `${page.slice(0, start)}${section}${page.slice(end + PG_MARKERS.end.length)}`
      : `${page.trimEnd()}\n\n## PostgreSQL\n\n${section}\n`,
  )
  let json: Record<string, unknown> = {}
  try {
    json = JSON.parse(readFileSync(jsonPath, 'utf8')) as Record<string, unknown>
  } catch {
    // No SQLite run yet: the file holds the PostgreSQL keys only.
  }
  writeFileSync(jsonPath, `${JSON.stringify({ ...json, ...run.results, pg_rows: run.rows }, null, 2)}\n`)
}
