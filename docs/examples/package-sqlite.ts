// #region sqlite
import { CqrsPattern, defineAggregate } from '@statesource/core'
import { openSqlite } from '@statesource/sqlite'
import { setup } from 'xstate'

const lamp = defineAggregate({
  type: 'lamp',
  machine: setup({ types: { events: {} as { type: 'switchedOn' } | { type: 'switchedOff' } } }).createMachine(
    {
      id: 'lamp',
      initial: 'off',
      states: { off: { on: { switchedOn: 'on' } }, on: { on: { switchedOff: 'off' } } },
    },
  ),
  commands: { switchOn: () => ({ type: 'switchedOn' }), switchOff: () => ({ type: 'switchedOff' }) },
})

const sqlite = await openSqlite('lamps.db') // created if missing: WAL, migrations applied
const handles = await CqrsPattern.builder({ journal: sqlite.journal })
  .withAggregate(lamp)
  .build()
  .materialize()
const lamps = handles.repository(lamp)
const { version } = await lamps.send('l-1', { type: 'switchOn' }, { commandId: 'on-1' }) // a rerun: duplicate
console.log(`l-1 stored at version ${version}`) // l-1 stored at version 1
await handles.stop()
await sqlite.close()
// #endregion sqlite
