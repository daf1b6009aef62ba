// One "process" of the durable-schedule restart test: run by scheduling-durable-restart.test.ts as
// `node --import tsx scheduling-restart-child.ts <db file> <mode>`; prints one JSON line on stdout.
import {
  CqrsPattern,
  createDurableScheduler,
  defineAggregate,
  reject,
  type ScheduleStore,
  silentLogger,
} from '@statesource/core'
import { createSqliteScheduleStore, openSqlite } from '@statesource/sqlite'
import { assign, setup } from 'xstate'

const [file, mode] = process.argv.slice(2)
if (!file || !mode) throw new Error('usage: scheduling-restart-child.ts <db file> <schedule|start>')

const wallet = defineAggregate({
  type: 'wallet',
  machine: setup({
    types: {
      context: {} as { balance: number },
      events: {} as { type: 'opened' } | { type: 'credited'; amount: number },
    },
  }).createMachine({
    id: 'wallet',
    initial: 'new',
    context: { balance: 0 },
    states: {
      new: { on: { opened: 'open' } },
      open: {
        on: {
          credited: { actions: assign({ balance: ({ context, event }) => context.balance + event.amount }) },
        },
      },
    },
  }),
  commands: {
    open: () => ({ type: 'opened' }),
    credit: (cmd: { amount: number }) =>
      cmd.amount > 0 ? { type: 'credited', amount: cmd.amount } : reject('amount must be positive'),
  },
})

const sqlite = await openSqlite(file)
const handles = await CqrsPattern.builder({ journal: sqlite.journal })
  .withAggregate(wallet)
  .logger(silentLogger)
  .build()
  .materialize()
const wallets = handles.repository(wallet)
const inner = await createSqliteScheduleStore(sqlite)

if (mode === 'schedule') {
  const scheduler = createDurableScheduler({ store: inner, handles })
  await wallets.send('w-1', { type: 'open' })
  await scheduler.schedule(
    wallets,
    'w-1',
    { type: 'credit', amount: 10 },
    { delay: 0 },
    { scheduleId: 'overdue' },
  )
  await scheduler.schedule(
    wallets,
    'w-1',
    { type: 'credit', amount: 99 },
    { delay: 3_600_000 },
    { scheduleId: 'later' },
  )
  console.log(JSON.stringify({ scheduled: (await inner.pending()).map((s) => s.id) }))
  // Exit before any timer can run: the process "dies" with both commands pending.
  process.exit(0)
}

// In crash mode the process dies right after the send committed, before the schedule is marked fired.
const store: ScheduleStore =
  process.env.CRASH_AFTER_SEND === '1'
    ? {
        add: (s) => inner.add(s),
        pending: () => inner.pending(),
        get: (id) => inner.get(id),
        purge: (before) => inner.purge(before),
        settle: async (id, settlement) => {
          if (settlement.status === 'fired') process.exit(3)
          return inner.settle(id, settlement)
        },
      }
    : inner
const scheduler = createDurableScheduler({ store, handles })
const started = await scheduler.start()
const overdue = await inner.get('overdue')
console.log(JSON.stringify({ started, overdue: overdue?.status }))
await handles.stop()
await sqlite.close()
