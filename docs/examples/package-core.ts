// #region core
import { CqrsPattern, createInMemoryJournal, defineAggregate, reject } from '@statesource/core'
import { assign, setup } from 'xstate'

const counter = defineAggregate({
  type: 'counter',
  machine: setup({
    types: { context: {} as { count: number }, events: {} as { type: 'incremented'; by: number } },
  }).createMachine({
    id: 'counter',
    context: { count: 0 },
    on: { incremented: { actions: assign({ count: ({ context, event }) => context.count + event.by }) } },
  }),
  commands: {
    increment: (cmd: { by: number }) => (cmd.by > 0 ? { type: 'incremented', by: cmd.by } : reject('by < 1')),
  },
})

const handles = await CqrsPattern.builder({ journal: createInMemoryJournal() })
  .withAggregate(counter)
  .build()
  .materialize()
const { version } = await handles.repository(counter).send('c-1', { type: 'increment', by: 2 })
console.log(`c-1 at version ${version}`) // c-1 at version 1
await handles.stop()
// #endregion core
