// #region aggregate
import { CqrsPattern, createInMemoryJournal, defineAggregate, defineReader } from '@statesource/core'
import { assign, setup } from 'xstate'

// Today's schema of `deposited` is version 3: { amount, currency }.
export const wallet = defineAggregate({
  type: 'wallet',
  machine: setup({
    types: {
      context: {} as { balance: number },
      events: {} as { type: 'deposited'; amount: number; currency: string },
    },
  }).createMachine({
    id: 'wallet',
    context: { balance: 0 },
    on: {
      deposited: { actions: assign({ balance: ({ context, event }) => context.balance + event.amount }) },
    },
  }),
  eventVersions: { deposited: 3 },
  commands: {
    deposit: (cmd: { amount: number }) => ({ type: 'deposited', amount: cmd.amount, currency: 'EUR' }),
  },
})

// #endregion aggregate

// #region codecs
import { EventCodecRegistry } from '@statesource/core'

export const codecs = new EventCodecRegistry()
  // v1 stored cents as a string.
  .upcast('deposited', 1, (payload) => ({ amount: Number((payload as { cents: string }).cents) / 100 }))
  // v2 had no currency: everything was in euros.
  .upcast('deposited', 2, (payload) => ({ ...(payload as object), currency: 'EUR' }))
// #endregion codecs

export async function main(log: (line: string) => void = console.log) {
  const journal = createInMemoryJournal()
  // Events written by older code, as they sit in the journal.
  await journal.append([
    {
      persistenceId: 'wallet|w-1',
      expectedSeqNr: 0,
      events: [
        { type: 'deposited', version: 1, payload: { cents: '700' }, tags: [], metadata: {} },
        { type: 'deposited', version: 2, payload: { amount: 3 }, tags: [], metadata: {} },
      ],
    },
  ])
  // #region use
  const builder = CqrsPattern.builder({ journal }).withAggregate(wallet).eventCodecs(codecs)
  const deposits = builder.withReader(
    defineReader({
      name: 'deposits',
      initialState: [] as string[],
      apply: (list, event, envelope) => [...list, `v${envelope.version} ${event.amount} ${event.currency}`],
    }),
  )
  const handles = await builder.build().materialize()
  // Recovery upcasts the stored v1 and v2 events too, so the balance includes them.
  const sent = await handles.repository(wallet).send('w-1', { type: 'deposit', amount: 10 })
  log(JSON.stringify((await handles.repository(wallet).state('w-1')).context)) // {"balance":20}
  log((await deposits.waitForOffset(sent.ordering)).join('; ')) // v1 7 EUR; v2 3 EUR; v3 10 EUR
  await handles.stop()
  // #endregion use
}
