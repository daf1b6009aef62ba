// The order aggregate after a chart change that adds a guard: a failed payment may be retried only while
// `retryAllowed` holds, and it never does here. Loaded by the check tests as an --aggregates module.
import { defineAggregate } from '@statesource/core'
import { setup } from 'xstate'
import { order, orderMachine } from './fixtures.ts'

const config = structuredClone(orderMachine.config) as any
config.states.checkout.states.payment.states.failed = {
  on: { paymentRetried: { target: 'awaiting', guard: 'retryAllowed' } },
}

export const guardedOrder = defineAggregate({
  type: 'order',
  machine: setup({
    actions: orderMachine.implementations.actions as never,
    guards: { ...(orderMachine.implementations.guards as object), retryAllowed: () => false } as never,
  }).createMachine(config),
  commands: { ...(order.commands as unknown as Record<string, (command: any, state: any) => any>) },
})
