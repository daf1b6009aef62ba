import { validateWith } from '@statesource/core'
import * as v from 'valibot'

// Commands arrive from outside (an HTTP API in a real shop), so their shape is checked before `decide`
// sees them. Valibot is the demo's choice; any Standard Schema library (Zod, ArkType, ...) plugs into
// validateWith the same way.

const isoTimestamp = v.pipe(v.string(), v.isoTimestamp('must be an ISO timestamp'))
const cents = v.pipe(v.number(), v.integer('must be whole cents'), v.minValue(1, 'must be at least 1 cent'))
const id = v.pipe(v.string(), v.regex(/^[a-z]+-[0-9]+$/, 'must look like "c-42"'))

const orderLine = v.object({
  sku: v.pipe(v.string(), v.regex(/^[A-Z]+-[0-9]{2}$/, 'must look like "MUG-01"')),
  quantity: v.pipe(
    v.number(),
    v.integer('must be a whole number'),
    v.minValue(1, 'must be at least 1'),
    v.maxValue(20, 'must be at most 20'),
  ),
  unitPrice: cents,
})

/**
 * The order commands' schemas, keyed by command type.
 *
 * @example
 * ```ts
 * import * as v from 'valibot'
 * v.parse(orderSchemas.cancel, { type: 'cancel', reason: 'too late', at: new Date().toISOString() })
 * ```
 */
export const orderSchemas = {
  place: v.object({
    type: v.literal('place'),
    customerId: id,
    lines: v.pipe(v.array(orderLine), v.minLength(1, 'an order needs at least one line'), v.maxLength(50)),
    at: isoTimestamp,
  }),
  confirmPayment: v.object({
    type: v.literal('confirmPayment'),
    paymentId: id,
    amount: cents,
    at: isoTimestamp,
  }),
  startPacking: v.object({ type: v.literal('startPacking'), at: isoTimestamp }),
  ship: v.object({
    type: v.literal('ship'),
    shipmentId: id,
    carrier: v.pipe(v.string(), v.minLength(1)),
    at: isoTimestamp,
  }),
  markDelivered: v.object({ type: v.literal('markDelivered'), at: isoTimestamp }),
  cancel: v.object({
    type: v.literal('cancel'),
    reason: v.pipe(v.string(), v.minLength(1), v.maxLength(200)),
    at: isoTimestamp,
  }),
  expirePayment: v.object({ type: v.literal('expirePayment'), at: isoTimestamp }),
}

/**
 * The payment commands' schemas, keyed by command type.
 *
 * @example
 * ```ts
 * import * as v from 'valibot'
 * v.parse(paymentSchemas.capture, { type: 'capture', at: new Date().toISOString() })
 * ```
 */
export const paymentSchemas = {
  request: v.object({
    type: v.literal('request'),
    orderId: id,
    amount: cents,
    method: v.picklist(['card', 'paypal', 'transfer']),
    at: isoTimestamp,
  }),
  recordAuthorization: v.object({
    type: v.literal('recordAuthorization'),
    approved: v.boolean(),
    code: v.pipe(v.string(), v.minLength(1)),
    at: isoTimestamp,
  }),
  capture: v.object({ type: v.literal('capture'), at: isoTimestamp }),
  refund: v.object({ type: v.literal('refund'), amount: cents, at: isoTimestamp }),
}

/**
 * The shipment commands' schemas, keyed by command type.
 *
 * @example
 * ```ts
 * import * as v from 'valibot'
 * v.parse(shipmentSchemas.pickUp, { type: 'pickUp', at: new Date().toISOString() })
 * ```
 */
export const shipmentSchemas = {
  create: v.object({
    type: v.literal('create'),
    orderId: id,
    carrier: v.pipe(v.string(), v.minLength(1)),
    at: isoTimestamp,
  }),
  pickUp: v.object({ type: v.literal('pickUp'), at: isoTimestamp }),
  sendOutForDelivery: v.object({ type: v.literal('sendOutForDelivery'), at: isoTimestamp }),
  reportFailedAttempt: v.object({
    type: v.literal('reportFailedAttempt'),
    reason: v.pipe(v.string(), v.minLength(1)),
    at: isoTimestamp,
  }),
  confirmDelivery: v.object({ type: v.literal('confirmDelivery'), at: isoTimestamp }),
}

/**
 * The validation interceptors, one per aggregate: a command without a schema is refused, so a new
 * command cannot skip validation by accident.
 *
 * @example
 * ```ts
 * for (const interceptor of commandValidators) builder.onCommand(interceptor)
 * ```
 */
export const commandValidators = [
  validateWith(orderSchemas, { name: 'validate-order', aggregates: ['order'], unknownCommands: 'reject' }),
  validateWith(paymentSchemas, {
    name: 'validate-payment',
    aggregates: ['payment'],
    unknownCommands: 'reject',
  }),
  validateWith(shipmentSchemas, {
    name: 'validate-shipment',
    aggregates: ['shipment'],
    unknownCommands: 'reject',
  }),
] as const
