// The order aggregate after an incompatible chart change (failed payments can no longer be retried):
// loaded by the CLI test as an --aggregates module.
import { defineAggregate } from '@statesource/core'
import { setup } from 'xstate'
import { order, orderMachine } from './fixtures.ts'

const config = structuredClone(orderMachine.config) as any
config.states.checkout.states.payment.states.failed = {}

export const brokenOrder = defineAggregate({
  type: 'order',
  machine: setup({
    actions: orderMachine.implementations.actions as never,
    guards: orderMachine.implementations.guards as never,
  }).createMachine(config),
  commands: { ...(order.commands as unknown as Record<string, (command: any, state: any) => any>) },
})
