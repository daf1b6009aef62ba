// #region aggregate
import { defineAggregate, reject } from '@statesource/core'
import { given } from '@statesource/core/testing'
import { assign, setup } from 'xstate'

export const orderMachine = setup({
  types: {
    context: {} as { items: number; total: number },
    events: {} as
      | { type: 'itemAdded'; price: number }
      | { type: 'placed'; at: number }
      | { type: 'paid' }
      | { type: 'cancelled'; reason: string },
  },
  actions: {
    addItem: assign({
      items: ({ context }) => context.items + 1,
      total: ({ context, event }) => context.total + (event.type === 'itemAdded' ? event.price : 0),
    }),
  },
  guards: {
    hasItems: ({ context }) => context.items > 0,
  },
}).createMachine({
  id: 'order',
  initial: 'draft',
  context: { items: 0, total: 0 },
  states: {
    draft: {
      on: {
        itemAdded: { actions: 'addItem' },
        placed: { guard: 'hasItems', target: 'placed' },
        cancelled: 'cancelled',
      },
    },
    placed: {
      initial: 'awaitingPayment',
      states: {
        awaitingPayment: { on: { paid: 'paid', cancelled: '#order.cancelled' } },
        paid: { type: 'final' },
      },
    },
    cancelled: { type: 'final' },
  },
})

export const order = defineAggregate({
  type: 'order',
  machine: orderMachine,
  version: 1, // bump when the chart changes: older snapshots are discarded
  commands: {
    addItem: (cmd: { price: number }) =>
      cmd.price > 0 ? { type: 'itemAdded', price: cmd.price } : reject('price must be positive'),
    // Timestamps travel in commands and events, never from a clock inside the machine.
    place: (cmd: { at: number }) => ({ type: 'placed', at: cmd.at }),
    pay: () => ({ type: 'paid' }),
    cancel: (cmd: { reason: string }) => ({ type: 'cancelled', reason: cmd.reason }),
  },
  tags: (event) => (event.type === 'placed' || event.type === 'paid' ? ['order-lifecycle'] : []),
  invariants: {
    boundedTotal: (state) => state.context.total <= 10_000 || 'an order may not exceed 10,000',
  },
})
// #endregion aggregate

export function main(log: (line: string) => void = console.log) {
  // #region given-when-then
  const spec = given(order, [{ type: 'itemAdded', price: 20 }]).when({ type: 'place', at: 1_700_000_000_000 })
  log(JSON.stringify(spec.events)) // [{"type":"placed","at":1700000000000}]
  log(JSON.stringify(spec.state.value)) // {"placed":"awaitingPayment"}

  const empty = given(order).when({ type: 'place', at: 1 })
  log(empty.rejected().message)
  // Command "place" for "order|spec" was rejected by statechart: event "placed" is not accepted by aggregate "order" in state "draft"
  // #endregion given-when-then
}
