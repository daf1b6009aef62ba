// #region fixture
import { CqrsPattern, createInMemoryJournal, defineReader, ReaderFilter } from '@statesource/core'
import { order } from './aggregates.ts'

/** The shop as production wires it, but on the in-memory journal: a fresh one per test. */
export async function startShop() {
  const journal = createInMemoryJournal()
  const builder = CqrsPattern.builder({ journal }).withAggregate(order)
  const placedOrders = builder.withReader(
    defineReader({
      name: 'placed-orders',
      filter: ReaderFilter.tag('order-lifecycle'),
      initialState: [] as string[],
      apply: (ids, event, envelope) => (event.type === 'placed' ? [...ids, envelope.persistenceId] : ids),
    }),
  )
  const handles = await builder.build().materialize()
  return { journal, handles, orders: handles.repository(order), placedOrders }
}
// #endregion fixture

export async function main(log: (line: string) => void = console.log) {
  const { handles, orders, placedOrders } = await startShop()
  await orders.send('o-1', { type: 'addItem', price: 20 })
  const placed = await orders.send('o-1', { type: 'place', at: 1_700_000_000_000 })
  log((await placedOrders.waitForOffset(placed.ordering)).join()) // order|o-1
  await handles.stop()
}
