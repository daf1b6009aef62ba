// Type tests of the public API's inference: what a user gets without writing a type argument. The
// assertions are checked by the compiler (`pnpm typecheck` covers test files); a wrong inference fails
// there, and each `@ts-expect-error` fails when the call it marks stops being an error. At run time the
// tests only build the values.
import {
  type CommandFrom,
  type CqrsBuilder,
  type CqrsHandles,
  CqrsPattern,
  type CqrsTopology,
  createInMemoryJournal,
  defineAggregate,
  defineReader,
  type EventEnvelope,
  type EventFrom,
  type ProjectionHandle,
  ReaderFilter,
  type ReaderStateFrom,
  type Repository,
  reject,
  type SendResult,
  type StateFrom,
} from '@statesource/core'
import { describe, expectTypeOf, it } from 'vitest'
import { assign, setup } from 'xstate'

const accountMachine = setup({
  types: {
    context: {} as { balance: number },
    events: {} as { type: 'opened' } | { type: 'deposited'; amount: number },
  },
}).createMachine({
  id: 'account',
  initial: 'new',
  context: { balance: 0 },
  states: {
    new: { on: { opened: 'open' } },
    open: {
      on: {
        deposited: { actions: assign({ balance: ({ context, event }) => context.balance + event.amount }) },
      },
    },
  },
})

const account = defineAggregate({
  type: 'account',
  machine: accountMachine,
  commands: {
    open: () => ({ type: 'opened' }),
    deposit: (cmd: { amount: number }, state) =>
      state.context.balance + cmd.amount > 1_000
        ? reject('limit')
        : { type: 'deposited', amount: cmd.amount },
  },
})

describe('the public API infers types from one config object', () => {
  it('gives an aggregate its command union from the decide functions and its events and state from the chart', () => {
    expectTypeOf<CommandFrom<typeof account>>().toEqualTypeOf<
      { readonly type: 'open' } | ({ readonly type: 'deposit' } & { amount: number })
    >()
    expectTypeOf<EventFrom<typeof account>>().toEqualTypeOf<
      { type: 'opened' } | { type: 'deposited'; amount: number }
    >()
    expectTypeOf<StateFrom<typeof account>['context']>().toEqualTypeOf<{ balance: number }>()
  })

  it('types decide state from the chart and refuses a decide whose command is used wrongly', () => {
    defineAggregate({
      type: 'typed',
      machine: accountMachine,
      commands: {
        check: (_cmd: { limit: number }, state) => {
          expectTypeOf(state.context).toEqualTypeOf<{ balance: number }>()
          return undefined
        },
      },
    })
    defineAggregate({
      type: 'wrong',
      machine: accountMachine,
      commands: {
        // @ts-expect-error the command has no `amount`, so reading it is an error
        add: (cmd: { qty: number }) => ({ type: 'deposited', amount: cmd.amount }),
      },
    })
  })

  it('types a repository by its aggregate: commands checked, send resolving to a SendResult', async () => {
    const handles = await CqrsPattern.builder({ journal: createInMemoryJournal() })
      .withAggregate(account)
      .build()
      .materialize()
    try {
      const accounts = handles.repository(account)
      expectTypeOf(accounts).toEqualTypeOf<Repository<typeof account>>()
      expectTypeOf(accounts.send).parameter(1).toEqualTypeOf<CommandFrom<typeof account>>()
      expectTypeOf(accounts.send('a-1', { type: 'open' })).resolves.toEqualTypeOf<SendResult>()
      expectTypeOf<SendResult['events']>().toEqualTypeOf<readonly EventEnvelope[]>()
      expectTypeOf<SendResult['version']>().toBeNumber()
      expectTypeOf<SendResult['ordering']>().toBeNumber()
      // Types only: these calls are never made.
      const unsent = () => {
        // @ts-expect-error an unknown command type
        void accounts.send('a-1', { type: 'close' })
        // @ts-expect-error a command missing its payload
        void accounts.send('a-1', { type: 'deposit' })
        // @ts-expect-error a payload of the wrong type
        void accounts.send('a-1', { type: 'deposit', amount: '10' })
      }
      expectTypeOf(unsent).toBeFunction()
    } finally {
      await handles.stop()
    }
  })

  it('chains the builder, and types a projection handle by its reader state', () => {
    const totals = defineReader({
      name: 'totals',
      filter: ReaderFilter.all(),
      initialState: { total: 0, ids: [] as string[] },
      apply: (state, event, envelope) => {
        expectTypeOf(envelope).toEqualTypeOf<EventEnvelope>()
        expectTypeOf(event.type).toBeString()
        return { total: state.total + 1, ids: [...state.ids, envelope.persistenceId] }
      },
    })
    expectTypeOf<ReaderStateFrom<typeof totals>>().toEqualTypeOf<{ total: number; ids: string[] }>()

    const builder = CqrsPattern.builder({ journal: createInMemoryJournal() }).withAggregate(account)
    // The builder carries the registered aggregates' events, so readers, listeners and taps get them typed.
    expectTypeOf(builder).toEqualTypeOf<CqrsBuilder<EventFrom<typeof account>>>()
    expectTypeOf(builder.onEvent(() => {})).toEqualTypeOf<CqrsBuilder<EventFrom<typeof account>>>()
    const view = builder.withReader(totals)
    expectTypeOf(view).toEqualTypeOf<ProjectionHandle<{ total: number; ids: string[] }>>()
    expectTypeOf(view.waitForOffset).returns.resolves.toEqualTypeOf<{ total: number; ids: string[] }>()

    const topology = builder.build()
    expectTypeOf(topology).toEqualTypeOf<CqrsTopology>()
    expectTypeOf(topology.materialize).returns.resolves.toEqualTypeOf<CqrsHandles>()
    expectTypeOf<CqrsHandles['projection']>().returns.toEqualTypeOf<ProjectionHandle<unknown>>()
  })
})
