// #region inspect
import { defineAggregate } from '@statesource/core'
import { checkChart, exportChart } from '@statesource/inspect'
import { setup } from 'xstate'

const ticket = defineAggregate({
  type: 'ticket',
  machine: setup({ types: { events: {} as { type: 'opened' } | { type: 'closed' } } }).createMachine({
    id: 'ticket',
    initial: 'new',
    states: { new: { on: { opened: 'open' } }, open: { on: { closed: 'closed' } }, closed: {} },
  }),
  commands: { open: () => ({ type: 'opened' }), close: () => ({ type: 'closed' }) },
})

console.log(checkChart(ticket).ok) // true: every state reachable, every event decided and handled
console.log(exportChart(ticket).mermaid.split('\n')[0]) // stateDiagram-v2 (paste into any Mermaid viewer)
// #endregion inspect
