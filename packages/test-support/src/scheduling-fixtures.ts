// One "process" of the durable-schedule restart suite: what the child script of each database runs after opening
// it. No vitest here, so a child process (`node --import tsx`) can import it.
import {
  CqrsPattern,
  createDurableScheduler,
  defineAggregate,
  type Journal,
  reject,
  type ScheduleStore,
  silentLogger,
} from '@statesource/core'
import { assign, setup } from 'xstate'

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

/**
 * Runs one process of the app on an opened database and prints one JSON line on stdout. `schedule` opens wallet
 * `w-1`, schedules an overdue credit and one due in an hour, and exits before any timer runs; `start` starts the
 * durable scheduler. With `CRASH_AFTER_SEND=1` the process dies (exit code 3) right after a send committed,
 * before the schedule is marked fired.
 */
export async function runSchedulingProcess(
  database: { journal: Journal; close(): Promise<void> },
  inner: ScheduleStore,
  mode: string,
): Promise<void> {
  const handles = await CqrsPattern.builder({ journal: database.journal })
    .withAggregate(wallet)
    .logger(silentLogger)
    .build()
    .materialize()
  const wallets = handles.repository(wallet)

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
  await database.close()
}
