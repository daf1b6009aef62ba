import { type Reader, ReaderFilter } from '@statesource/core'
import { createPostgresProjection, type StatesourcePostgres } from '@statesource/postgres'
import { type Kysely, sql } from 'kysely'
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

// The same two read models as projections.ts (read-models.ts), in tables of the PostgreSQL schema, each event applied in one
// transaction with the projection's offset (createPostgresProjection).

/**
 * The orders-by-status reader on PostgreSQL: one row per order in `demo_order`, counts per status in memory.
 *
 * @example
 * ```ts
 * const byStatus = builder.withReader(await postgresOrdersByStatusReader(pg))
 * ```
 */
export function postgresOrdersByStatusReader(
  pg: StatesourcePostgres,
): Promise<Reader<OrdersByStatus, OrderEvent>> {
  const orders = sql.table(`${pg.schema}.demo_order`)
  return createPostgresProjection<OrdersByStatus, OrderEvent>({
    pg,
    name: 'orders-by-status',
    filter: ReaderFilter.tag('order'),
    setup: async (db) => {
      await sql`CREATE TABLE IF NOT EXISTS ${orders} (order_id text PRIMARY KEY, customer_id text NOT NULL,
        total bigint NOT NULL, status text NOT NULL, placed_at text NOT NULL, updated_at text NOT NULL)`.execute(
        db,
      )
    },
    initialState: emptyCounts(),
    loadState: async (db) => {
      const counts: Record<OrderStatus, number> = { ...emptyCounts() }
      const { rows } = await sql<{ status: OrderStatus; n: string }>`
        SELECT status, count(*) AS n FROM ${orders} GROUP BY status`.execute(db)
      for (const row of rows) counts[row.status] = Number(row.n)
      return counts
    },
    reset: (tx) => sql`DELETE FROM ${orders}`.execute(tx),
    apply: async (counts, event, envelope, tx: Kysely<any>) => {
      const orderId = envelope.persistenceId.slice('order|'.length)
      const next = statusAfter[event.type]
      if (event.type === 'placed') {
        await sql`INSERT INTO ${orders} VALUES (${orderId}, ${event.customerId}, ${event.total}, ${next}, ${event.at}, ${event.at})`.execute(
          tx,
        )
        return countsAfter(counts, undefined, next)
      }
      const { rows } = await sql<{ status: OrderStatus }>`
        UPDATE ${orders} o SET status = ${next}, updated_at = ${event.at}
        FROM (SELECT status FROM ${orders} WHERE order_id = ${orderId} FOR UPDATE) before
        WHERE o.order_id = ${orderId} RETURNING before.status`.execute(tx)
      return countsAfter(counts, rows[0]?.status, next)
    },
  })
}

/**
 * The revenue-per-day reader on PostgreSQL: captured and refunded cents per day.
 *
 * @example
 * ```ts
 * const revenue = builder.withReader(await postgresRevenuePerDayReader(pg))
 * ```
 */
export function postgresRevenuePerDayReader(
  pg: StatesourcePostgres,
): Promise<Reader<RevenuePerDay, PaymentEvent>> {
  const revenue = sql.table(`${pg.schema}.demo_revenue_per_day`)
  return createPostgresProjection<RevenuePerDay, PaymentEvent>({
    pg,
    name: 'revenue-per-day',
    filter: ReaderFilter.tag('payment'),
    setup: (db) =>
      sql`CREATE TABLE IF NOT EXISTS ${revenue} (day text PRIMARY KEY, captured bigint NOT NULL,
        refunded bigint NOT NULL, payments bigint NOT NULL)`.execute(db),
    initialState: {},
    loadState: async (db) => {
      const { rows } = await sql<Record<keyof DailyRevenue, string>>`
        SELECT day, captured, refunded, payments FROM ${revenue}`.execute(db)
      return Object.fromEntries(
        rows.map((r) => [
          r.day,
          {
            day: r.day,
            captured: Number(r.captured),
            refunded: Number(r.refunded),
            payments: Number(r.payments),
          },
        ]),
      )
    },
    reset: (tx) => sql`DELETE FROM ${revenue}`.execute(tx),
    apply: async (state, event, _envelope, tx: Kysely<any>) => {
      const change = revenueChange(event)
      if (!change) return state
      await sql`INSERT INTO ${revenue} VALUES (${change.day}, ${change.captured}, ${change.refunded}, ${change.payments})
        ON CONFLICT (day) DO UPDATE SET captured = ${revenue}.captured + excluded.captured,
          refunded = ${revenue}.refunded + excluded.refunded, payments = ${revenue}.payments + excluded.payments`.execute(
        tx,
      )
      return revenueAfter(state, change)
    },
  })
}
