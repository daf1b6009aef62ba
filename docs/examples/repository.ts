import { CqrsPattern, createInMemoryJournal, isStatesourceError } from '@statesource/core'
import { order } from './aggregates.ts'

export async function main(log: (line: string) => void = console.log) {
  const handles = await CqrsPattern.builder({ journal: createInMemoryJournal() })
    .withAggregate(order)
    .build()
    .materialize()
  // #region send
  const orders = handles.repository(order)
  const first = await orders.send(
    'o-7',
    { type: 'addItem', price: 10 },
    {
      commandId: 'checkout-7-item-1', // idempotency key: a retry returns this same result
      metadata: { correlationId: 'req-42', userId: 'ada' },
      timeoutMs: 2_000,
    },
  )
  const retry = await orders.send('o-7', { type: 'addItem', price: 10 }, { commandId: 'checkout-7-item-1' })
  log(`${first.version} ${retry.version} duplicate=${retry.duplicate}`) // 1 1 duplicate=true

  try {
    await orders.send('o-7', { type: 'pay' }, { expectedVersion: 0 })
  } catch (error) {
    if (isStatesourceError(error, 'CONCURRENCY_CONFLICT')) log(error.message)
    // "order|o-7" is at version 1, expected 0. Reload the aggregate and retry the command.
  }
  // #endregion send
  await handles.stop()
}
