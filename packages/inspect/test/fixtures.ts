import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defineAggregate, reject } from '@statesource/core'
import { assign, setup } from 'xstate'

/** An order: nested states (payment, shipping) inside a parallel checkout, with named actions and guards. */
export const orderMachine = setup({
  types: {
    context: {} as { items: number; total: number; attempts: number },
    events: {} as
      | { type: 'itemAdded'; sku: string; price: number }
      | { type: 'submitted' }
      | { type: 'paymentAuthorized'; reference: string }
      | { type: 'paymentFailed'; reason: string }
      | { type: 'paymentRetried' }
      | { type: 'packed' }
      | { type: 'shipped'; carrier: string }
      | { type: 'cancelled'; reason: string },
  },
  actions: {
    addItem: assign({
      items: ({ context }) => context.items + 1,
      total: ({ context, event }) => context.total + (event.type === 'itemAdded' ? event.price : 0),
    }),
    countAttempt: assign({ attempts: ({ context }) => context.attempts + 1 }),
  },
  guards: {
    hasItems: ({ context }) => context.items > 0,
  },
}).createMachine({
  id: 'order',
  initial: 'draft',
  context: { items: 0, total: 0, attempts: 0 },
  states: {
    draft: {
      on: {
        itemAdded: { actions: 'addItem' },
        submitted: { target: 'checkout', guard: 'hasItems' },
      },
    },
    checkout: {
      type: 'parallel',
      on: { cancelled: 'cancelled' },
      states: {
        payment: {
          initial: 'awaiting',
          states: {
            awaiting: {
              on: {
                paymentAuthorized: { target: 'authorized', actions: 'countAttempt' },
                paymentFailed: { target: 'failed', actions: 'countAttempt' },
              },
            },
            failed: { on: { paymentRetried: 'awaiting' } },
            authorized: {},
          },
        },
        shipping: {
          initial: 'packing',
          states: {
            packing: { on: { packed: 'ready' } },
            ready: { on: { shipped: '#order.completed' } },
          },
        },
      },
    },
    completed: { type: 'final' },
    cancelled: { type: 'final' },
  },
})

export const order = defineAggregate({
  type: 'order',
  machine: orderMachine,
  commands: {
    addItem: (cmd: { sku: string; price: number }) => ({ type: 'itemAdded', sku: cmd.sku, price: cmd.price }),
    submit: () => ({ type: 'submitted' }),
    authorizePayment: (cmd: { reference: string }) => ({
      type: 'paymentAuthorized',
      reference: cmd.reference,
    }),
    failPayment: (cmd: { reason: string }) => ({ type: 'paymentFailed', reason: cmd.reason }),
    retryPayment: () => ({ type: 'paymentRetried' }),
    pack: () => ({ type: 'packed' }),
    ship: (cmd: { carrier: string }, state) =>
      state.matches({ checkout: { payment: 'authorized' } })
        ? { type: 'shipped', carrier: cmd.carrier }
        : reject('the payment is not authorized yet'),
    cancel: (cmd: { reason: string }) => ({ type: 'cancelled', reason: cmd.reason }),
  },
})

/** A fresh temporary directory. */
export function tempDir(prefix = 'statesource-inspect-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}
