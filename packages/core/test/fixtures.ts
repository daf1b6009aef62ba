import { assign, type SnapshotFrom, setup } from 'xstate'
import { defineAggregate, reject } from '../src/index.ts'

export const accountMachine = setup({
  types: {
    context: {} as { owner: string; balance: number },
    events: {} as
      | { type: 'opened'; owner: string }
      | { type: 'deposited'; amount: number }
      | { type: 'withdrawn'; amount: number }
      | { type: 'closed' },
  },
  actions: {
    open: assign({ owner: ({ event }) => (event.type === 'opened' ? event.owner : '') }),
    credit: assign({
      balance: ({ context, event }) => context.balance + (event.type === 'deposited' ? event.amount : 0),
    }),
    debit: assign({
      balance: ({ context, event }) => context.balance - (event.type === 'withdrawn' ? event.amount : 0),
    }),
  },
  guards: {
    covered: ({ context, event }) => event.type === 'withdrawn' && event.amount <= context.balance,
    empty: ({ context }) => context.balance === 0,
  },
}).createMachine({
  id: 'account',
  initial: 'pending',
  context: { owner: '', balance: 0 },
  states: {
    pending: { on: { opened: { target: 'open', actions: 'open' } } },
    open: {
      on: {
        deposited: { actions: 'credit' },
        withdrawn: { guard: 'covered', actions: 'debit' },
        closed: { guard: 'empty', target: 'closed' },
      },
    },
    closed: { type: 'final' },
  },
})

export const accountCommands = {
  open: (cmd: { owner: string }) => ({ type: 'opened', owner: cmd.owner }),
  deposit: (cmd: { amount: number }) =>
    cmd.amount > 0 ? { type: 'deposited', amount: cmd.amount } : reject('amount must be positive'),
  withdraw: (cmd: { amount: number }, state: SnapshotFrom<typeof accountMachine>) =>
    state.context.balance < cmd.amount
      ? reject('insufficient funds')
      : { type: 'withdrawn', amount: cmd.amount },
  // Deliberately unchecked: lets the chart reject it.
  forceWithdraw: (cmd: { amount: number }) => ({ type: 'withdrawn', amount: cmd.amount }),
  close: () => ({ type: 'closed' }),
  noop: () => [],
  twice: (cmd: { amount: number }) => [
    { type: 'deposited', amount: cmd.amount },
    { type: 'deposited', amount: cmd.amount },
  ],
}

export const account = defineAggregate({
  type: 'account',
  machine: accountMachine,
  commands: accountCommands,
  tags: (event) => (event.type === 'deposited' || event.type === 'withdrawn' ? ['money'] : []),
  invariants: {
    maxBalance: (state) => state.context.balance <= 1_000_000 || 'balance above 1,000,000',
  },
})
