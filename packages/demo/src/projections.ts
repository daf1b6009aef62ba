import { type Reader, ReaderFilter, StatesourceError } from '@statesource/core'
import { createSqliteProjection, type StatesourceSqlite } from '@statesource/sqlite'
import type { OrderEvent, PaymentEvent } from './aggregates.ts'
import {
  countsAfter,
  type DailyRevenue,
  emptyCounts,
  type OrderStatus,
  type OrdersByStatus,
  type RevenuePerDay,
  revenueAfter,
  revenueChange,
  statusAfter,
} from './read-models.ts'

// The read models live in the same SQLite file as the journal, and each reader commits its rows and its
// offset in one transaction (createSqliteProjection): a restart resumes exactly where the last commit left off, and no event is
// ever applied twice.

const ORDER_TABLE = `
  CREATE TABLE IF NOT EXISTS demo_order (
    order_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    total INTEGER NOT NULL,
    status TEXT NOT NULL,
    placed_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS demo_order_status ON demo_order (status);
`

const REVENUE_TABLE = `
  CREATE TABLE IF NOT EXISTS demo_revenue_per_day (
    day TEXT PRIMARY KEY,
    captured INTEGER NOT NULL,
    refunded INTEGER NOT NULL,
    payments INTEGER NOT NULL
  );
`

/**
 * The orders-by-status reader: one row per order in `demo_order`, counts per status in memory.
 *
 * @example
 * ```ts
 * const byStatus = builder.withReader(ordersByStatusReader(sqlite))
 * ```
 */
export function ordersByStatusReader(sqlite: StatesourceSqlite): Reader<OrdersByStatus, OrderEvent> {
  const db = database(sqlite)
  db.exec(ORDER_TABLE)
  const findStatus = db.prepare<[string], { status: OrderStatus }>(
    'SELECT status FROM demo_order WHERE order_id = ?',
  )
  const insert = db.prepare(
    'INSERT INTO demo_order (order_id, customer_id, total, status, placed_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
  )
  const update = db.prepare('UPDATE demo_order SET status = ?, updated_at = ? WHERE order_id = ?')
  const countAll = db.prepare<[], { status: OrderStatus; n: number }>(
    'SELECT status, count(*) AS n FROM demo_order GROUP BY status',
  )
  return createSqliteProjection<OrdersByStatus, OrderEvent>({
    sqlite,
    name: 'orders-by-status',
    filter: ReaderFilter.tag('order'),
    initialState: emptyCounts(),
    loadState: () => {
      const counts: Record<OrderStatus, number> = { ...emptyCounts() }
      for (const row of countAll.all()) counts[row.status] = row.n
      return counts
    },
    reset: (tx) => {
      tx.exec('DELETE FROM demo_order')
    },
    // Returns a new object each time: a failed page rolls back to the previous state object untouched.
    apply: (counts, event, envelope) => {
      const orderId = envelope.persistenceId.slice('order|'.length)
      const next = statusAfter[event.type]
      if (event.type === 'placed') {
        // A primary key: applying a `placed` twice would fail loudly instead of double counting.
        insert.run(orderId, event.customerId, event.total, next, event.at, event.at)
        return countsAfter(counts, undefined, next)
      }
      const previous = findStatus.get(orderId)?.status
      update.run(next, event.at, orderId)
      return countsAfter(counts, previous, next)
    },
  })
}

/**
 * The revenue-per-day reader: captured and refunded cents per day of the payment's own timestamp.
 *
 * @example
 * ```ts
 * const revenue = builder.withReader(revenuePerDayReader(sqlite))
 * ```
 */
export function revenuePerDayReader(sqlite: StatesourceSqlite): Reader<RevenuePerDay, PaymentEvent> {
  const db = database(sqlite)
  db.exec(REVENUE_TABLE)
  const upsert = db.prepare(`
    INSERT INTO demo_revenue_per_day (day, captured, refunded, payments) VALUES (?, ?, ?, ?)
    ON CONFLICT (day) DO UPDATE SET
      captured = captured + excluded.captured,
      refunded = refunded + excluded.refunded,
      payments = payments + excluded.payments
  `)
  const all = db.prepare<[], DailyRevenue>(
    'SELECT day, captured, refunded, payments FROM demo_revenue_per_day',
  )
  return createSqliteProjection<RevenuePerDay, PaymentEvent>({
    sqlite,
    name: 'revenue-per-day',
    filter: ReaderFilter.tag('payment'),
    initialState: {},
    loadState: () => Object.fromEntries(all.all().map((row) => [row.day, { ...row }])),
    reset: (tx) => {
      tx.exec('DELETE FROM demo_revenue_per_day')
    },
    apply: (revenue, event) => {
      const change = revenueChange(event)
      if (!change) return revenue
      upsert.run(change.day, change.captured, change.refunded, change.payments)
      return revenueAfter(revenue, change)
    },
  })
}

function database(sqlite: StatesourceSqlite) {
  if (!sqlite.db) {
    throw new StatesourceError(
      'NOT_CONFIGURED',
      'The demo projections need a database opened with openSqlite(path), not fromKysely().',
    )
  }
  return sqlite.db
}
