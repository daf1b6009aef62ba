import { defineAggregate } from '@statesource/core'
import { assign, setup } from 'xstate'

/** A counter whose events carry the sender's sequence number, so per-id send order can be checked. */
export const counterMachine = setup({
  types: {
    context: {} as { total: number; seen: number[] },
    events: {} as { type: 'added'; n: number; step: number } | { type: 'noted'; text: string },
  },
}).createMachine({
  id: 'counter',
  context: { total: 0, seen: [] },
  on: {
    added: {
      actions: assign({
        total: ({ context, event }) => context.total + event.n,
        seen: ({ context, event }) => [...context.seen, event.step],
      }),
    },
    noted: { actions: assign({ total: ({ context }) => context.total }) },
  },
})

export const counter = defineAggregate({
  type: 'counter',
  machine: counterMachine,
  commands: {
    add: (cmd: { n: number; step: number }) => ({ type: 'added', n: cmd.n, step: cmd.step }),
    note: (cmd: { text: string; payload?: unknown }) => ({
      type: 'noted',
      text: cmd.text,
      payload: cmd.payload,
    }),
    nothing: () => [],
  },
  tags: (event) => (event.type === 'added' ? ['counting'] : []),
})
