import type { OrderEvent, PaymentEvent } from './aggregates.ts'

// The demo's two read models as values, and how an event changes them: the same on every database. The
// SQLite (projections.ts) and PostgreSQL (postgres-projections.ts) projections keep the rows in their tables
// and these values in memory.

/**
 * Where an order is, as the orders-by-status projection counts it.
 *
 * @example
 * ```ts
 * const status: OrderStatus = 'awaitingPayment'
 * ```
 */
export type OrderStatus = 'awaitingPayment' | 'paid' | 'packing' | 'shipped' | 'delivered' | 'cancelled'

/**
 * Every order status, in lifecycle order (for printing).
 *
 * @example
 * ```ts
 * for (const status of ORDER_STATUSES) console.log(status)
 * ```
 */
export const ORDER_STATUSES: readonly OrderStatus[] = [
  'awaitingPayment',
  'paid',
  'packing',
  'shipped',
  'delivered',
  'cancelled',
]

/**
 * The orders-by-status projection: how many orders are in each status.
 *
 * @example
 * ```ts
 * const counts: OrdersByStatus = { awaitingPayment: 0, paid: 0, packing: 0, shipped: 0, delivered: 12, cancelled: 1 }
 * ```
 */
export type OrdersByStatus = Readonly<Record<OrderStatus, number>>

/**
 * One day of the revenue projection, in cents.
 *
 * @example
 * ```ts
 * const day: DailyRevenue = { day: '2026-01-05', captured: 120_000, refunded: 2_500, payments: 48 }
 * ```
 */
export interface DailyRevenue {
  readonly day: string
  readonly captured: number
  readonly refunded: number
  readonly payments: number
}

/**
 * The revenue-per-day projection, keyed by ISO day.
 *
 * @example
 * ```ts
 * const revenue: RevenuePerDay = { '2026-01-05': { day: '2026-01-05', captured: 1_000, refunded: 0, payments: 1 } }
 * ```
 */
export type RevenuePerDay = Readonly<Record<string, DailyRevenue>>

/**
 * The status an order has after each kind of event.
 *
 * @example
 * ```ts
 * statusAfter.delivered // 'delivered'
 * ```
 */
export const statusAfter: Readonly<Record<OrderEvent['type'], OrderStatus>> = {
  placed: 'awaitingPayment',
  paymentConfirmed: 'paid',
  packingStarted: 'packing',
  shipped: 'shipped',
  delivered: 'delivered',
  cancelled: 'cancelled',
}

/**
 * No order in any status.
 *
 * @example
 * ```ts
 * const counts = emptyCounts() // { awaitingPayment: 0, paid: 0, ... }
 * ```
 */
export const emptyCounts = (): OrdersByStatus => ({
  awaitingPayment: 0,
  paid: 0,
  packing: 0,
  shipped: 0,
  delivered: 0,
  cancelled: 0,
})

/**
 * The counts after an order moved from `previous` (`undefined`: not counted yet) to `next`. A new object, so
 * that a failed transaction leaves the previous state untouched.
 *
 * @example
 * ```ts
 * countsAfter(emptyCounts(), undefined, 'awaitingPayment') // { awaitingPayment: 1, paid: 0, ... }
 * ```
 */
export function countsAfter(
  counts: OrdersByStatus,
  previous: OrderStatus | undefined,
  next: OrderStatus,
): OrdersByStatus {
  return previous === undefined
    ? { ...counts, [next]: counts[next] + 1 }
    : { ...counts, [previous]: counts[previous] - 1, [next]: counts[next] + 1 }
}

/**
 * What a payment event adds to the revenue of its day (the day of the payment's own timestamp), or `undefined`
 * for an event that moves no money.
 *
 * @example
 * ```ts
 * revenueChange({ type: 'captured', amount: 1_000, at: '2026-01-05T10:00:00Z' })
 * // { day: '2026-01-05', captured: 1_000, refunded: 0, payments: 1 }
 * ```
 */
export function revenueChange(event: PaymentEvent): DailyRevenue | undefined {
  if (event.type !== 'captured' && event.type !== 'refunded') return undefined
  return {
    day: event.at.slice(0, 10),
    captured: event.type === 'captured' ? event.amount : 0,
    refunded: event.type === 'refunded' ? event.amount : 0,
    payments: event.type === 'captured' ? 1 : 0,
  }
}

/**
 * The revenue per day with `change` added to its day. A new object, like {@link countsAfter}.
 *
 * @example
 * ```ts
 * revenueAfter({}, { day: '2026-01-05', captured: 1_000, refunded: 0, payments: 1 })
 * ```
 */
export function revenueAfter(revenue: RevenuePerDay, change: DailyRevenue): RevenuePerDay {
  const before = revenue[change.day] ?? { day: change.day, captured: 0, refunded: 0, payments: 0 }
  return {
    ...revenue,
    [change.day]: {
      day: change.day,
      captured: before.captured + change.captured,
      refunded: before.refunded + change.refunded,
      payments: before.payments + change.payments,
    },
  }
}
