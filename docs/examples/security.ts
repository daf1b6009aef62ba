import { CqrsPattern, createInMemoryJournal, defineAggregate, isStatesourceError } from '@statesource/core'
import { assign, setup } from 'xstate'

const counter = defineAggregate({
  type: 'counter',
  machine: setup({
    types: { context: {} as { count: number }, events: {} as { type: 'incremented'; note: string } },
  }).createMachine({
    id: 'counter',
    context: { count: 0 },
    on: { incremented: { actions: assign({ count: ({ context }) => context.count + 1 }) } },
  }),
  commands: { increment: (cmd: { note: string }) => ({ type: 'incremented', note: cmd.note }) },
})

export async function main(log: (line: string) => void = console.log) {
  // #region limits
  // The journal enforces the size limits; the gateway checks ids against the same ones at intake.
  const journal = createInMemoryJournal({ limits: { maxPayloadBytes: 64 * 1024 } }) // openSqlite(path, { limits })
  const handles = await CqrsPattern.builder({ journal })
    .withAggregate(counter)
    .commandQueue({ maxPerAggregate: 100, maxTotal: 10_000 })
    .build()
    .materialize()
  const counters = handles.repository(counter)

  const tooBig = await counters.send('c-1', { type: 'increment', note: 'x'.repeat(100_000) }).catch((e) => e)
  log(`${tooBig.code}: ${/limits\.\w+/.exec(tooBig.message)?.[0]}`) // INVALID_INPUT: limits.maxPayloadBytes

  // A flood to one aggregate: 100 commands wait, the rest are refused at once.
  const flood = Array.from({ length: 1_000 }, () => counters.send('c-2', { type: 'increment', note: '' }))
  const outcomes = await Promise.allSettled(flood)
  const refused = outcomes.filter(
    (o) => o.status === 'rejected' && isStatesourceError(o.reason, 'OVERLOADED'),
  ).length
  log(`refused ${refused} of 1000`) // refused 900 of 1000 (retry them later, with backoff)
  // #endregion limits
  await handles.stop()
}
