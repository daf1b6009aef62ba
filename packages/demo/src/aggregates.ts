import { defineAggregate, reject } from '@statesource/core'
import { assign, setup } from 'xstate'

// The three aggregates of the order-fulfilment demo. Each is a statechart over its domain events (past
// tense) plus one `decide` per command (imperative). Timestamps arrive in the commands, so the charts stay
// deterministic and replay gives the same state every time. Amounts are integer cents.

/**
 * One line of an order: a product, how many, and the unit price in cents.
 *
 * @example
 * ```ts
 * const line: OrderLine = { sku: 'MUG-01', quantity: 2, unitPrice: 1_250 }
 * ```
 */
export interface OrderLine {
  readonly sku: string
  readonly quantity: number
  readonly unitPrice: number
}

/**
 * The domain events of an order.
 *
 * @example
 * ```ts
 * const event: OrderEvent = { type: 'packingStarted', at: '2026-01-05T09:00:00.000Z' }
 * ```
 */
export type OrderEvent =
  | { type: 'placed'; customerId: string; lines: readonly OrderLine[]; total: number; at: string }
  | { type: 'paymentConfirmed'; paymentId: string; amount: number; at: string }
  | { type: 'packingStarted'; at: string }
  | { type: 'shipped'; shipmentId: string; carrier: string; at: string }
  | { type: 'delivered'; at: string }
  | { type: 'cancelled'; reason: string; at: string }

/**
 * What an order remembers.
 *
 * @example
 * ```ts
 * const fresh: OrderContext = { customerId: '', lines: [], total: 0, placedAt: '', paymentId: null, shipmentId: null, cancelReason: null }
 * ```
 */
export interface OrderContext {
  customerId: string
  lines: readonly OrderLine[]
  total: number
  placedAt: string
  paymentId: string | null
  shipmentId: string | null
  cancelReason: string | null
}

/**
 * The order's lifecycle: `draft → placed{awaitingPayment, paid} → fulfilment{packing, shipped, delivered}`,
 * or `cancelled` while it is still `placed`.
 *
 * @example
 * ```ts
 * const state = orderMachine.getInitialSnapshot(undefined as never)
 * ```
 */
export const orderMachine = setup({
  types: {
    context: {} as OrderContext,
    events: {} as OrderEvent,
  },
  actions: {
    recordPlacement: assign(({ event }) =>
      event.type === 'placed'
        ? { customerId: event.customerId, lines: event.lines, total: event.total, placedAt: event.at }
        : {},
    ),
    recordPayment: assign(({ event }) =>
      event.type === 'paymentConfirmed' ? { paymentId: event.paymentId } : {},
    ),
    recordShipment: assign(({ event }) => (event.type === 'shipped' ? { shipmentId: event.shipmentId } : {})),
    recordCancellation: assign(({ event }) =>
      event.type === 'cancelled' ? { cancelReason: event.reason } : {},
    ),
  },
  guards: {
    paymentCoversTotal: ({ context, event }) =>
      event.type === 'paymentConfirmed' && event.amount === context.total,
  },
}).createMachine({
  id: 'order',
  initial: 'draft',
  context: {
    customerId: '',
    lines: [],
    total: 0,
    placedAt: '',
    paymentId: null,
    shipmentId: null,
    cancelReason: null,
  },
  states: {
    draft: { on: { placed: { target: 'placed', actions: 'recordPlacement' } } },
    placed: {
      initial: 'awaitingPayment',
      on: { cancelled: { target: 'cancelled', actions: 'recordCancellation' } },
      states: {
        awaitingPayment: {
          on: { paymentConfirmed: { guard: 'paymentCoversTotal', target: 'paid', actions: 'recordPayment' } },
        },
        paid: { on: { packingStarted: { target: '#order.fulfilment' } } },
      },
    },
    fulfilment: {
      initial: 'packing',
      states: {
        packing: { on: { shipped: { target: 'shipped', actions: 'recordShipment' } } },
        shipped: { on: { delivered: { target: 'delivered' } } },
        delivered: { type: 'final' },
      },
    },
    cancelled: { type: 'final' },
  },
})

/**
 * The commands of an order, by type.
 *
 * @example
 * ```ts
 * const command: OrderCommands['cancel'] = { reason: 'changed my mind', at: '2026-01-05T09:00:00.000Z' }
 * ```
 */
export type OrderCommands = {
  place: { customerId: string; lines: readonly OrderLine[]; at: string }
  confirmPayment: { paymentId: string; amount: number; at: string }
  startPacking: { at: string }
  ship: { shipmentId: string; carrier: string; at: string }
  markDelivered: { at: string }
  cancel: { reason: string; at: string }
  /** Sent by the scheduler when the payment window closes: cancels the order unless it was paid. */
  expirePayment: { at: string }
}

/**
 * The order aggregate (persistence ids `order|<id>`), tagged `order` for the projections.
 *
 * @example
 * ```ts
 * await handles.repository(order).send('o-1', { type: 'place', customerId: 'c-1', lines, at })
 * ```
 */
export const order = defineAggregate<typeof orderMachine, OrderCommands>({
  type: 'order',
  machine: orderMachine,
  tags: () => ['order'],
  commands: {
    place: (cmd, state) =>
      state.matches('draft')
        ? {
            type: 'placed',
            customerId: cmd.customerId,
            lines: cmd.lines,
            total: cmd.lines.reduce((sum, line) => sum + line.quantity * line.unitPrice, 0),
            at: cmd.at,
          }
        : reject('the order was already placed'),
    confirmPayment: (cmd, state) =>
      cmd.amount === state.context.total
        ? { type: 'paymentConfirmed', paymentId: cmd.paymentId, amount: cmd.amount, at: cmd.at }
        : reject(`the payment of ${cmd.amount} does not match the order total of ${state.context.total}`),
    startPacking: (cmd) => ({ type: 'packingStarted', at: cmd.at }),
    ship: (cmd) => ({ type: 'shipped', shipmentId: cmd.shipmentId, carrier: cmd.carrier, at: cmd.at }),
    markDelivered: (cmd) => ({ type: 'delivered', at: cmd.at }),
    cancel: (cmd) => ({ type: 'cancelled', reason: cmd.reason, at: cmd.at }),
    // Fires once per order whatever happened meanwhile: a paid (or already cancelled) order ignores it.
    expirePayment: (cmd, state) =>
      state.matches({ placed: 'awaitingPayment' })
        ? { type: 'cancelled', reason: 'payment not received in time', at: cmd.at }
        : [],
  },
})

/**
 * The domain events of a payment.
 *
 * @example
 * ```ts
 * const event: PaymentEvent = { type: 'captured', amount: 1_250, at: '2026-01-05T09:00:00.000Z' }
 * ```
 */
export type PaymentEvent =
  | { type: 'requested'; orderId: string; amount: number; method: PaymentMethod; at: string }
  | { type: 'authorized'; authorizationCode: string; at: string }
  | { type: 'declined'; reason: string; at: string }
  | { type: 'captured'; amount: number; at: string }
  | { type: 'refunded'; amount: number; at: string }

/**
 * How a customer pays.
 *
 * @example
 * ```ts
 * const method: PaymentMethod = 'card'
 * ```
 */
export type PaymentMethod = 'card' | 'paypal' | 'transfer'

/**
 * What a payment remembers.
 *
 * @example
 * ```ts
 * const fresh: PaymentContext = { orderId: '', amount: 0, method: 'card', declines: 0, authorizationCode: null, capturedAt: null }
 * ```
 */
export interface PaymentContext {
  orderId: string
  amount: number
  method: PaymentMethod
  declines: number
  authorizationCode: string | null
  capturedAt: string | null
}

/** How many declines a payment survives before it fails for good. */
export const MAX_DECLINES = 3

/**
 * The payment's lifecycle: `new → pending{awaitingAuthorization, retrying} → authorized →
 * settled{captured, refunded}`, or `failed` after {@link MAX_DECLINES} declines.
 *
 * @example
 * ```ts
 * const state = paymentMachine.getInitialSnapshot(undefined as never)
 * ```
 */
export const paymentMachine = setup({
  types: {
    context: {} as PaymentContext,
    events: {} as PaymentEvent,
  },
  actions: {
    recordRequest: assign(({ event }) =>
      event.type === 'requested'
        ? { orderId: event.orderId, amount: event.amount, method: event.method }
        : {},
    ),
    countDecline: assign(({ context }) => ({ declines: context.declines + 1 })),
    recordAuthorization: assign(({ event }) =>
      event.type === 'authorized' ? { authorizationCode: event.authorizationCode } : {},
    ),
    recordCapture: assign(({ event }) => (event.type === 'captured' ? { capturedAt: event.at } : {})),
  },
  guards: {
    retriesLeft: ({ context }) => context.declines + 1 < MAX_DECLINES,
    refundWithinAmount: ({ context, event }) => event.type === 'refunded' && event.amount <= context.amount,
  },
}).createMachine({
  id: 'payment',
  initial: 'new',
  context: { orderId: '', amount: 0, method: 'card', declines: 0, authorizationCode: null, capturedAt: null },
  states: {
    new: { on: { requested: { target: 'pending', actions: 'recordRequest' } } },
    pending: {
      initial: 'awaitingAuthorization',
      on: {
        authorized: { target: 'authorized', actions: 'recordAuthorization' },
        declined: [
          { guard: 'retriesLeft', target: '.retrying', actions: 'countDecline' },
          { target: 'failed', actions: 'countDecline' },
        ],
      },
      states: { awaitingAuthorization: {}, retrying: {} },
    },
    authorized: { on: { captured: { target: 'settled', actions: 'recordCapture' } } },
    settled: {
      initial: 'captured',
      states: {
        captured: { on: { refunded: { guard: 'refundWithinAmount', target: 'refunded' } } },
        refunded: { type: 'final' },
      },
    },
    failed: { type: 'final' },
  },
})

/**
 * The commands of a payment, by type.
 *
 * @example
 * ```ts
 * const command: PaymentCommands['refund'] = { amount: 1_250, at: '2026-01-05T09:00:00.000Z' }
 * ```
 */
export type PaymentCommands = {
  request: { orderId: string; amount: number; method: PaymentMethod; at: string }
  /** The payment provider's answer: an authorization code, or a decline with its reason. */
  recordAuthorization: { approved: boolean; code: string; at: string }
  capture: { at: string }
  refund: { amount: number; at: string }
}

/**
 * The payment aggregate (persistence ids `payment|<id>`), tagged `payment`.
 *
 * @example
 * ```ts
 * await handles.repository(payment).send('p-1', { type: 'capture', at })
 * ```
 */
export const payment = defineAggregate<typeof paymentMachine, PaymentCommands>({
  type: 'payment',
  machine: paymentMachine,
  tags: () => ['payment'],
  commands: {
    request: (cmd) => ({
      type: 'requested',
      orderId: cmd.orderId,
      amount: cmd.amount,
      method: cmd.method,
      at: cmd.at,
    }),
    recordAuthorization: (cmd) =>
      cmd.approved
        ? { type: 'authorized', authorizationCode: cmd.code, at: cmd.at }
        : { type: 'declined', reason: cmd.code, at: cmd.at },
    capture: (cmd, state) => ({ type: 'captured', amount: state.context.amount, at: cmd.at }),
    refund: (cmd, state) =>
      cmd.amount <= state.context.amount
        ? { type: 'refunded', amount: cmd.amount, at: cmd.at }
        : reject(`cannot refund ${cmd.amount}: only ${state.context.amount} was captured`),
  },
})

/**
 * The domain events of a shipment.
 *
 * @example
 * ```ts
 * const event: ShipmentEvent = { type: 'pickedUp', at: '2026-01-05T09:00:00.000Z' }
 * ```
 */
export type ShipmentEvent =
  | { type: 'created'; orderId: string; carrier: string; at: string }
  | { type: 'pickedUp'; at: string }
  | { type: 'outForDelivery'; at: string }
  | { type: 'deliveryAttemptFailed'; reason: string; at: string }
  | { type: 'delivered'; at: string }

/**
 * What a shipment remembers.
 *
 * @example
 * ```ts
 * const fresh: ShipmentContext = { orderId: '', carrier: '', failedAttempts: 0, deliveredAt: null }
 * ```
 */
export interface ShipmentContext {
  orderId: string
  carrier: string
  failedAttempts: number
  deliveredAt: string | null
}

/**
 * The shipment's lifecycle: `new → preparing → inTransit{withCarrier, outForDelivery} → delivered`; a failed
 * delivery attempt goes back to the carrier.
 *
 * @example
 * ```ts
 * const state = shipmentMachine.getInitialSnapshot(undefined as never)
 * ```
 */
export const shipmentMachine = setup({
  types: {
    context: {} as ShipmentContext,
    events: {} as ShipmentEvent,
  },
  actions: {
    recordCreation: assign(({ event }) =>
      event.type === 'created' ? { orderId: event.orderId, carrier: event.carrier } : {},
    ),
    countFailedAttempt: assign(({ context }) => ({ failedAttempts: context.failedAttempts + 1 })),
    recordDelivery: assign(({ event }) => (event.type === 'delivered' ? { deliveredAt: event.at } : {})),
  },
}).createMachine({
  id: 'shipment',
  initial: 'new',
  context: { orderId: '', carrier: '', failedAttempts: 0, deliveredAt: null },
  states: {
    new: { on: { created: { target: 'preparing', actions: 'recordCreation' } } },
    preparing: { on: { pickedUp: { target: 'inTransit' } } },
    inTransit: {
      initial: 'withCarrier',
      states: {
        withCarrier: { on: { outForDelivery: { target: 'outForDelivery' } } },
        outForDelivery: {
          on: {
            deliveryAttemptFailed: { target: 'withCarrier', actions: 'countFailedAttempt' },
            delivered: { target: '#shipment.delivered', actions: 'recordDelivery' },
          },
        },
      },
    },
    delivered: { type: 'final' },
  },
})

/**
 * The commands of a shipment, by type.
 *
 * @example
 * ```ts
 * const command: ShipmentCommands['create'] = { orderId: 'o-1', carrier: 'DHL', at: '2026-01-05T09:00:00.000Z' }
 * ```
 */
export type ShipmentCommands = {
  create: { orderId: string; carrier: string; at: string }
  pickUp: { at: string }
  sendOutForDelivery: { at: string }
  reportFailedAttempt: { reason: string; at: string }
  confirmDelivery: { at: string }
}

/**
 * The shipment aggregate (persistence ids `shipment|<id>`), tagged `shipment`.
 *
 * @example
 * ```ts
 * await handles.repository(shipment).send('s-1', { type: 'pickUp', at })
 * ```
 */
export const shipment = defineAggregate<typeof shipmentMachine, ShipmentCommands>({
  type: 'shipment',
  machine: shipmentMachine,
  tags: () => ['shipment'],
  commands: {
    create: (cmd) => ({ type: 'created', orderId: cmd.orderId, carrier: cmd.carrier, at: cmd.at }),
    pickUp: (cmd) => ({ type: 'pickedUp', at: cmd.at }),
    sendOutForDelivery: (cmd) => ({ type: 'outForDelivery', at: cmd.at }),
    reportFailedAttempt: (cmd) => ({ type: 'deliveryAttemptFailed', reason: cmd.reason, at: cmd.at }),
    confirmDelivery: (cmd) => ({ type: 'delivered', at: cmd.at }),
  },
})

/**
 * Every aggregate of the demo, for tools that load a module of aggregates (the lifecycle viewer).
 *
 * @example
 * ```ts
 * for (const aggregate of aggregates) console.log(aggregate.type, aggregate.eventTypes)
 * ```
 */
export const aggregates = [order, payment, shipment] as const
