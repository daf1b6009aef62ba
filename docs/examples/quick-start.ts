// #region quick-start
import { CqrsPattern, createInMemoryJournal, defineAggregate, reject } from '@statesource/core'
import { assign, setup } from 'xstate'

// 1. The statechart: its events are the domain events (past tense).
const accountMachine = setup({
  types: {
    context: {} as { balance: number },
    events: {} as
      | { type: 'opened' }
      | { type: 'deposited'; amount: number }
      | { type: 'withdrawn'; amount: number },
  },
  actions: {
    credit: assign({
      balance: ({ context, event }) => context.balance + ('amount' in event ? event.amount : 0),
    }),
    debit: assign({
      balance: ({ context, event }) => context.balance - ('amount' in event ? event.amount : 0),
    }),
  },
}).createMachine({
  id: 'account',
  initial: 'new',
  context: { balance: 0 },
  states: {
    new: { on: { opened: 'open' } },
    open: { on: { deposited: { actions: 'credit' }, withdrawn: { actions: 'debit' } } },
  },
})

// 2. The aggregate: one `decide` per command, returning events or a rejection.
const account = defineAggregate({
  type: 'account',
  machine: accountMachine,
  commands: {
    open: () => ({ type: 'opened' }),
    deposit: (cmd: { amount: number }) => ({ type: 'deposited', amount: cmd.amount }),
    withdraw: (cmd: { amount: number }, state) =>
      cmd.amount > state.context.balance
        ? reject('insufficient funds')
        : { type: 'withdrawn', amount: cmd.amount },
  },
})

// 3. Wire it up and send commands.
async function main() {
  const handles = await CqrsPattern.builder({ journal: createInMemoryJournal() })
    .withAggregate(account)
    .build()
    .materialize()
  const accounts = handles.repository(account)

  await accounts.send('acc-1', { type: 'open' })
  const { version } = await accounts.send('acc-1', { type: 'deposit', amount: 100 })
  console.log(`version ${version}`) // version 2

  try {
    await accounts.send('acc-1', { type: 'withdraw', amount: 500 })
  } catch (error) {
    console.log((error as Error).message)
    // Command "withdraw" for "account|acc-1" was rejected by decide: insufficient funds
  }
  await handles.stop()
}

await main()
// #endregion quick-start
