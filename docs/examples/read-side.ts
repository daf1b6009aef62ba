// #region reader
import { AuditLog, CqrsPattern, createInMemoryJournal, defineReader, ReaderFilter } from '@statesource/core'
import { order } from './aggregates.ts'

// A projection: name, filter, initial state and a fold over decoded events with their envelopes.
const revenue = defineReader({
  name: 'revenue',
  filter: ReaderFilter.all(),
  initialState: { total: 0, orders: [] as string[] },
  errorPolicy: 'dead-letter',
  apply: (state, event, envelope) =>
    event.type === 'itemAdded'
      ? {
          total: state.total + (event.price as number),
          orders: state.orders.includes(envelope.persistenceId)
            ? state.orders
            : [...state.orders, envelope.persistenceId],
        }
      : state,
})
// #endregion reader

export async function main(log: (line: string) => void = console.log) {
  // #region wire
  const builder = CqrsPattern.builder({ journal: createInMemoryJournal() })
    .withAggregate(order)
    .readerRetry(3, { minMs: 10, maxMs: 1_000 })
  const revenueView = builder.withReader(revenue)
  const audit = builder.withReader(new AuditLog({ capacity: 100 }))
  const handles = await builder.build().materialize()

  const orders = handles.repository(order)
  await orders.send('o-1', { type: 'addItem', price: 25 })
  const sent = await orders.send('o-2', { type: 'addItem', price: 10 })

  // Read your own write: wait until the projection has reached the command's global ordering.
  const state = await revenueView.waitForOffset(sent.ordering, { timeout: 1_000 })
  log(`${state.total} from ${state.orders.join(', ')}`) // 35 from order|o-1, order|o-2
  log(
    audit.state
      .recent(1)
      .map((e) => `${e.persistenceId}#${e.seqNr} ${e.type}`)
      .join(),
  ) // order|o-2#1 itemAdded

  const [status] = await handles.readerStatus()
  log(`${status?.name} ${status?.phase} lag=${status?.lag}`) // revenue caught-up lag=0
  await handles.stop()
  // #endregion wire
}
