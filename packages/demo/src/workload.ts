import type { OrderLine, PaymentMethod } from './aggregates.ts'
import type { Role } from './authorization.ts'

// The shop's traffic, generated deterministically from the order number: the same order number always
// gets the same customer, basket and fate, so two runs of the demo produce comparable results.

/**
 * One command of an order's flow: where it goes, who sends it, and whether the shop expects a refusal.
 *
 * @example
 * ```ts
 * const step: Step = { kind: 'send', aggregate: 'order', id: 'o-1', command: { type: 'startPacking', at }, role: 'warehouse' }
 * ```
 */
export type Step =
  | {
      readonly kind: 'send'
      readonly aggregate: 'order' | 'payment' | 'shipment'
      readonly id: string
      readonly command: { readonly type: string; readonly [key: string]: unknown }
      readonly role: Role
      readonly userId?: string
      /** Sent on purpose to show a refusal: a rejection is the expected outcome. */
      readonly expectRejection?: 'validation' | 'authorization'
      /** An idempotency key, for commands that must not apply twice across runs. */
      readonly commandId?: string
    }
  | { readonly kind: 'schedulePaymentExpiry'; readonly orderId: string; readonly at: string }
  | { readonly kind: 'cancelPaymentExpiry'; readonly orderId: string }

/**
 * What happens to an order.
 *
 * @example
 * ```ts
 * const fate: OrderFate = 'unpaid'
 * ```
 */
export type OrderFate =
  | 'delivered'
  | 'declinedOnce'
  | 'unpaid'
  | 'cancelledByCustomer'
  | 'failedDeliveryAttempt'

const CATALOG: readonly { sku: string; unitPrice: number }[] = [
  { sku: 'MUG-01', unitPrice: 1_250 },
  { sku: 'TEE-02', unitPrice: 2_400 },
  { sku: 'CAP-03', unitPrice: 1_900 },
  { sku: 'BAG-04', unitPrice: 4_500 },
  { sku: 'PEN-05', unitPrice: 350 },
  { sku: 'NOTE-06', unitPrice: 800 },
  { sku: 'LAMP-07', unitPrice: 6_900 },
]
const CARRIERS = ['DHL', 'UPS', 'PostNL'] as const
const METHODS: readonly PaymentMethod[] = ['card', 'card', 'paypal', 'transfer']

/** The simulated shop opens at this moment; order n is placed 3 minutes after order n - 1 (480 a day). */
export const SHOP_OPENED_AT = Date.UTC(2026, 0, 5, 8, 0, 0)
const MINUTE = 60_000
const ORDER_SPACING = 3 * MINUTE

/**
 * The id of order number `n` (1-based), zero-padded so ids sort in order.
 *
 * @example
 * ```ts
 * orderId(42) // 'o-000042'
 * ```
 */
export function orderId(n: number): string {
  return `o-${String(n).padStart(6, '0')}`
}

/**
 * The order number of an order id.
 *
 * @example
 * ```ts
 * orderNumber('o-000042') // 42
 * ```
 */
export function orderNumber(id: string): number {
  return Number(id.slice(2))
}

/** A small deterministic hash of the order number, in [0, 1). */
function chance(n: number, salt: number): number {
  let x = (n * 0x9e3779b1 + salt * 0x85ebca6b) | 0
  x = Math.imul(x ^ (x >>> 16), 0x21f0aaad)
  x = Math.imul(x ^ (x >>> 15), 0x735a2d97)
  x ^= x >>> 15
  return (x >>> 0) / 4_294_967_296
}

/**
 * The fate of order number `n`: mostly delivered, with a few declines, unpaid orders, cancellations and
 * failed delivery attempts.
 *
 * @example
 * ```ts
 * fateOf(7) // 'delivered'
 * ```
 */
export function fateOf(n: number): OrderFate {
  const roll = chance(n, 1)
  if (roll < 0.04) return 'unpaid'
  if (roll < 0.09) return 'declinedOnce'
  if (roll < 0.11) return 'cancelledByCustomer'
  if (roll < 0.14) return 'failedDeliveryAttempt'
  return 'delivered'
}

/**
 * The basket of order number `n`.
 *
 * @example
 * ```ts
 * const lines = basketOf(7) // [{ sku: 'TEE-02', quantity: 1, unitPrice: 2_400 }, ...]
 * ```
 */
export function basketOf(n: number): OrderLine[] {
  const count = 1 + Math.floor(chance(n, 2) * 3)
  const lines: OrderLine[] = []
  for (let i = 0; i < count; i++) {
    const product = CATALOG[Math.floor(chance(n, 10 + i) * CATALOG.length)]!
    if (lines.some((line) => line.sku === product.sku)) continue
    lines.push({
      sku: product.sku,
      quantity: 1 + Math.floor(chance(n, 20 + i) * 3),
      unitPrice: product.unitPrice,
    })
  }
  return lines
}

/**
 * Every step of order number `n`'s flow, from the basket to the doorstep, in the order they are sent.
 *
 * @example
 * ```ts
 * const steps = stepsOf(7)
 * console.log(steps.length) // 13
 * ```
 */
export function stepsOf(n: number): Step[] {
  const id = orderId(n)
  const paymentId = `p-${n}`
  const shipmentId = `s-${n}`
  const customerId = `c-${1 + Math.floor(chance(n, 3) * 500)}`
  const placedAt = SHOP_OPENED_AT + n * ORDER_SPACING
  const at = (minutes: number) => new Date(placedAt + minutes * MINUTE).toISOString()
  const lines = basketOf(n)
  const total = lines.reduce((sum, line) => sum + line.quantity * line.unitPrice, 0)
  const carrier = CARRIERS[n % CARRIERS.length]!
  const fate = fateOf(n)
  const customer = { role: 'customer', userId: customerId } as const
  const steps: Step[] = []
  const send = (
    aggregate: 'order' | 'payment' | 'shipment',
    target: string,
    command: { readonly type: string; readonly [key: string]: unknown },
    who: { role: Role; userId?: string },
    extra: { expectRejection?: 'validation' | 'authorization' } = {},
  ) => {
    steps.push({ kind: 'send', aggregate, id: target, command, ...who, ...extra })
  }

  // One order in 250 (10, 260, ...) first arrives malformed (a quantity of 0) and is refused by the schema.
  if (n % 250 === 10) {
    send(
      'order',
      id,
      { type: 'place', customerId, lines: [{ ...lines[0]!, quantity: 0 }], at: at(0) },
      customer,
      {
        expectRejection: 'validation',
      },
    )
  }
  send('order', id, { type: 'place', customerId, lines, at: at(0) }, customer)
  steps.push({ kind: 'schedulePaymentExpiry', orderId: id, at: at(30) })
  send(
    'payment',
    paymentId,
    { type: 'request', orderId: id, amount: total, method: METHODS[n % METHODS.length]!, at: at(1) },
    customer,
  )
  const payments = { role: 'payments' } as const
  if (fate === 'unpaid') {
    for (let attempt = 1; attempt <= 3; attempt++) {
      send(
        'payment',
        paymentId,
        { type: 'recordAuthorization', approved: false, code: 'insufficient funds', at: at(1 + attempt) },
        payments,
      )
    }
    // Nothing more: the scheduled expiry cancels the order when the payment window closes.
    return steps
  }
  if (fate === 'declinedOnce') {
    send(
      'payment',
      paymentId,
      { type: 'recordAuthorization', approved: false, code: 'card expired', at: at(2) },
      payments,
    )
  }
  send(
    'payment',
    paymentId,
    { type: 'recordAuthorization', approved: true, code: `AUTH${n}`, at: at(3) },
    payments,
  )
  send('payment', paymentId, { type: 'capture', at: at(4) }, payments)
  send('order', id, { type: 'confirmPayment', paymentId, amount: total, at: at(5) }, payments)
  steps.push({ kind: 'cancelPaymentExpiry', orderId: id })
  if (fate === 'cancelledByCustomer') {
    send('order', id, { type: 'cancel', reason: 'changed my mind', at: at(20) }, customer)
    send('payment', paymentId, { type: 'refund', amount: total, at: at(25) }, { role: 'support' })
    return steps
  }
  const warehouse = { role: 'warehouse' } as const
  const courier = { role: 'carrier' } as const
  send('order', id, { type: 'startPacking', at: at(60) }, warehouse)
  send('shipment', shipmentId, { type: 'create', orderId: id, carrier, at: at(120) }, warehouse)
  send('shipment', shipmentId, { type: 'pickUp', at: at(300) }, courier)
  send('order', id, { type: 'ship', shipmentId, carrier, at: at(300) }, warehouse)
  send('shipment', shipmentId, { type: 'sendOutForDelivery', at: at(1_440) }, courier)
  let deliveredAt = 1_680
  if (fate === 'failedDeliveryAttempt') {
    send(
      'shipment',
      shipmentId,
      { type: 'reportFailedAttempt', reason: 'nobody home', at: at(1_500) },
      courier,
    )
    send('shipment', shipmentId, { type: 'sendOutForDelivery', at: at(2_880) }, courier)
    deliveredAt = 3_000
  }
  send('shipment', shipmentId, { type: 'confirmDelivery', at: at(deliveredAt) }, courier)
  send('order', id, { type: 'markDelivered', at: at(deliveredAt) }, courier)
  // One customer in 200 (4, 204, ...) tries to cancel after delivery, which only a return may undo.
  if (n % 200 === 4) {
    send('order', id, { type: 'cancel', reason: 'arrived too late', at: at(deliveredAt + 60) }, customer, {
      expectRejection: 'authorization',
    })
  }
  return steps
}

/**
 * The return of order number `n`, handled in a later run: the customer sends one item back and support
 * refunds it. The command id makes the refund idempotent if the same return is handled twice.
 *
 * @example
 * ```ts
 * const [refund] = returnStepsOf(7, '2026-02-01T10:00:00.000Z')
 * ```
 */
export function returnStepsOf(n: number, at: string): Step[] {
  const [line] = basketOf(n)
  return [
    {
      kind: 'send',
      aggregate: 'payment',
      id: `p-${n}`,
      command: { type: 'refund', amount: line!.unitPrice, at },
      role: 'support',
      commandId: `return:${orderId(n)}`,
    },
  ]
}

/**
 * The moment order number `n` is placed, in the simulated shop's clock.
 *
 * @example
 * ```ts
 * new Date(placedAt(1)).toISOString() // '2026-01-05T08:03:00.000Z'
 * ```
 */
export function placedAt(n: number): number {
  return SHOP_OPENED_AT + n * ORDER_SPACING
}
