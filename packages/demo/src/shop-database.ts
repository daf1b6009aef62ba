import { rmSync } from 'node:fs'
import path from 'node:path'
import type {
  Journal,
  OffsetStore,
  Reader,
  ReadJournal,
  ScheduleStore,
  SnapshotStore,
} from '@statesource/core'
import { openPostgres } from '@statesource/postgres'
import { createSqliteScheduleStore, openSqlite } from '@statesource/sqlite'
import { sql } from 'kysely'
import type { OrderEvent, PaymentEvent } from './aggregates.ts'
import { postgresOrdersByStatusReader, postgresRevenuePerDayReader } from './postgres-projections.ts'
import { ordersByStatusReader, revenuePerDayReader } from './projections.ts'
import type { OrdersByStatus, RevenuePerDay } from './read-models.ts'

/**
 * What the demo needs from its database, on SQLite or PostgreSQL: the stores, the two projections whose
 * read models live in it, and the bookkeeping of runs.
 *
 * @example
 * ```ts
 * const database = await openShopDatabase({ dbPath: 'shop.db' })
 * const run = await database.startRun(2_000)
 * ```
 */
export interface ShopDatabase {
  /** How the database is named in the demo's output. */
  readonly label: string
  readonly journal: Journal & { highestOrdering(): number | Promise<number> }
  readJournal(config: { pollIntervalMs: number }): ReadJournal
  readonly offsetStore: OffsetStore
  readonly snapshotStore: SnapshotStore
  readonly scheduleStore: ScheduleStore
  readonly ordersByStatus: Reader<OrdersByStatus, OrderEvent>
  readonly revenuePerDay: Reader<RevenuePerDay, PaymentEvent>
  /** Records a run placing `orders` new orders, numbered after the previous run's. */
  startRun(
    orders: number,
  ): Promise<{ run: number; first: number; last: number; previous?: { first: number; last: number } }>
  /** Order ids in `demo_order` with status `delivered` between two order ids. */
  deliveredOrders(from: string, to: string): Promise<string[]>
  close(): Promise<void>
}

/**
 * Opens the demo's database: the SQLite file at `dbPath`, or, with `postgresUrl`, the schema `postgresSchema`
 * (default `statesource_demo`) of that PostgreSQL database. `reset` deletes the file or drops the schema first.
 *
 * @example
 * ```ts
 * const database = await openShopDatabase({ dbPath: 'shop.db', postgresUrl: 'postgres://localhost/shop' })
 * ```
 */
export async function openShopDatabase(options: {
  dbPath: string
  postgresUrl?: string | undefined
  postgresSchema?: string | undefined
  reset?: boolean | undefined
}): Promise<ShopDatabase> {
  return options.postgresUrl
    ? openPostgresShop(
        options.postgresUrl,
        options.postgresSchema ?? 'statesource_demo',
        options.reset ?? false,
      )
    : openSqliteShop(options.dbPath, options.reset ?? false)
}

async function openSqliteShop(dbPath: string, reset: boolean): Promise<ShopDatabase> {
  if (reset) for (const file of [dbPath, `${dbPath}-wal`, `${dbPath}-shm`]) rmSync(file, { force: true })
  const sqlite = await openSqlite(dbPath)
  try {
    const db = sqlite.db!
    db.exec(`CREATE TABLE IF NOT EXISTS demo_run (
      run INTEGER PRIMARY KEY AUTOINCREMENT,
      first_order INTEGER NOT NULL,
      last_order INTEGER NOT NULL,
      started_at INTEGER NOT NULL
    )`)
    return {
      label: path.basename(dbPath),
      journal: sqlite.journal,
      readJournal: (config) => sqlite.readJournal(config),
      offsetStore: sqlite.offsetStore,
      snapshotStore: sqlite.snapshotStore,
      scheduleStore: await createSqliteScheduleStore(sqlite),
      ordersByStatus: ordersByStatusReader(sqlite),
      revenuePerDay: revenuePerDayReader(sqlite),
      async startRun(orders) {
        const previous = db
          .prepare('SELECT run, first_order, last_order FROM demo_run ORDER BY run DESC LIMIT 1')
          .get() as { run: number; first_order: number; last_order: number } | undefined
        const first = (previous?.last_order ?? 0) + 1
        const last = first + orders - 1
        const run = Number(
          db
            .prepare('INSERT INTO demo_run (first_order, last_order, started_at) VALUES (?, ?, ?)')
            .run(first, last, Date.now()).lastInsertRowid,
        )
        return {
          run,
          first,
          last,
          ...(previous ? { previous: { first: previous.first_order, last: previous.last_order } } : {}),
        }
      },
      async deliveredOrders(from, to) {
        const rows = db
          .prepare(
            "SELECT order_id FROM demo_order WHERE status = 'delivered' AND order_id BETWEEN ? AND ? ORDER BY order_id",
          )
          .all(from, to) as { order_id: string }[]
        return rows.map((r) => r.order_id)
      },
      close: () => sqlite.close(),
    }
  } catch (error) {
    await sqlite.close()
    throw error
  }
}

async function openPostgresShop(url: string, schema: string, reset: boolean): Promise<ShopDatabase> {
  if (reset) {
    const dropper = await openPostgres(url, { schema, listen: false })
    await sql`DROP SCHEMA IF EXISTS ${sql.id(schema)} CASCADE`.execute(dropper.kysely)
    await dropper.close()
  }
  const pg = await openPostgres(url, { schema, applicationName: 'statesource-demo' })
  try {
    const runs = sql.table(`${schema}.demo_run`)
    await sql`CREATE TABLE IF NOT EXISTS ${runs} (run bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      first_order bigint NOT NULL, last_order bigint NOT NULL, started_at bigint NOT NULL)`.execute(pg.kysely)
    const ordersByStatus = await postgresOrdersByStatusReader(pg)
    const revenuePerDay = await postgresRevenuePerDayReader(pg)
    const host = new URL(url)
    return {
      label: `schema "${schema}" on ${host.host}${host.pathname}`,
      journal: pg.journal,
      readJournal: (config) => pg.readJournal(config),
      offsetStore: pg.offsetStore,
      snapshotStore: pg.snapshotStore,
      scheduleStore: pg.scheduleStore,
      ordersByStatus,
      revenuePerDay,
      async startRun(orders) {
        const { rows } = await sql<{ first_order: string; last_order: string }>`
          SELECT first_order, last_order FROM ${runs} ORDER BY run DESC LIMIT 1`.execute(pg.kysely)
        const previous = rows[0]
          ? { first: Number(rows[0].first_order), last: Number(rows[0].last_order) }
          : undefined
        const first = (previous?.last ?? 0) + 1
        const last = first + orders - 1
        const inserted = await sql<{ run: string }>`
          INSERT INTO ${runs} (first_order, last_order, started_at) VALUES (${first}, ${last}, ${Date.now()})
          RETURNING run`.execute(pg.kysely)
        return { run: Number(inserted.rows[0]!.run), first, last, ...(previous ? { previous } : {}) }
      },
      async deliveredOrders(from, to) {
        const { rows } = await sql<{ order_id: string }>`
          SELECT order_id FROM ${sql.table(`${schema}.demo_order`)}
          WHERE status = 'delivered' AND order_id BETWEEN ${from} AND ${to} ORDER BY order_id`.execute(
          pg.kysely,
        )
        return rows.map((r) => r.order_id)
      },
      close: () => pg.close(),
    }
  } catch (error) {
    await pg.close()
    throw error
  }
}
