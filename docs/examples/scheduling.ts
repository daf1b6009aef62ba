import {
  CqrsPattern,
  createDurableScheduler,
  createInMemoryJournal,
  scheduleCommand,
  silentLogger,
} from '@statesource/core'
import { createSqliteScheduleStore, openSqlite } from '@statesource/sqlite'
import { order } from './aggregates.ts'

export async function main(log: (line: string) => void = console.log, file = ':memory:') {
  const handles = await CqrsPattern.builder({ journal: createInMemoryJournal() })
    .withAggregate(order)
    .logger(silentLogger)
    .build()
    .materialize()
  const orders = handles.repository(order)
  await orders.send('o-1', { type: 'addItem', price: 10 })

  // #region in-process
  // Cancel an unpaid order after 30 minutes, unless the customer pays first.
  const expiry = scheduleCommand(
    orders,
    'o-1',
    { type: 'cancel', reason: 'not paid in time' },
    { delay: 30 * 60_000 },
    {
      commandId: 'expire-o-1', // the send's idempotency key
      onError: (error, info) => log(`schedule ${info.id} failed: ${error.message}`),
    },
  )
  // ... the customer paid:
  log(`cancelled: ${expiry.cancel()}`) // cancelled: true
  log(JSON.stringify(await expiry.done)) // {"status":"cancelled"}
  // #endregion in-process

  // #region failure
  const tooLate = scheduleCommand(
    orders,
    'o-1',
    { type: 'addItem', price: -1 },
    { delay: 0 },
    {
      logger: silentLogger, // failures go to the logger at warn level, and to onError
      onError: (error) => log(`onError: ${error.message}`),
    },
  )
  const outcome = await tooLate.done // never rejects
  log(`outcome: ${outcome.status}`) // outcome: failed
  // #endregion failure

  // #region durable
  const sqlite = await openSqlite(file) // the app's database: the journal's file
  const scheduler = createDurableScheduler({ store: await createSqliteScheduleStore(sqlite), handles })
  const { rearmed, fired } = await scheduler.start() // re-arms what a previous process left, fires overdue ones
  log(`start: rearmed ${rearmed}, fired ${fired}`) // start: rearmed 0, fired 0
  const reminder = await scheduler.schedule(
    orders,
    'o-1',
    { type: 'place', at: 1_700_000_000_000 },
    { delay: 0 },
    {
      scheduleId: 'place-o-1', // also the command id: a fire repeated after a crash is a duplicate, not a second write
    },
  )
  const sent = await reminder.done
  log(`${sent.status}: version ${sent.status === 'sent' ? sent.result.version : '-'}`) // sent: version 2
  // #endregion durable
  await handles.stop() // also stops the scheduler (pending schedules stay in the store)
  await sqlite.close()
}
