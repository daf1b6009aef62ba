import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createWebSocketInspector } from '@statelyai/inspect'
import { CqrsPattern, createInMemoryJournal, defineAggregate } from '@statesource/core'
import {
  connectInspector,
  createInspectionRecorder,
  exportChart,
  startInspectorRelay,
} from '@statesource/inspect'
import { assign, setup } from 'xstate'

// #region named
const orderMachine = setup({
  types: {
    context: {} as { items: number },
    events: {} as { type: 'itemAdded'; sku: string; price: number } | { type: 'submitted' },
  },
  actions: { addItem: assign({ items: ({ context }) => context.items + 1 }) },
  guards: { hasItems: ({ context }) => context.items > 0 },
}).createMachine({
  id: 'order',
  initial: 'draft',
  context: { items: 0 },
  states: {
    draft: {
      on: { itemAdded: { actions: 'addItem' }, submitted: { target: 'checkout', guard: 'hasItems' } },
    },
    checkout: {},
  },
})
// #endregion named

const order = defineAggregate({
  type: 'order',
  machine: orderMachine,
  commands: {
    addItem: (cmd: { sku: string; price: number }) => ({ type: 'itemAdded', sku: cmd.sku, price: cmd.price }),
    submit: () => ({ type: 'submitted' }),
  },
})

export async function main(log: (line: string) => void = console.log) {
  const dir = mkdtempSync(join(tmpdir(), 'statesource-inspect-'))
  const topology = CqrsPattern.builder({ journal: createInMemoryJournal(), name: 'shop' })
    .withAggregate(order)
    .build()
  log(`warnings: ${exportChart(order).warnings.length}`) // warnings: 0

  // #region recorder
  const recorder = createInspectionRecorder({ file: join(dir, 'inspection.jsonl') })
  const handles = await topology.materialize({ inspect: recorder.inspect })
  await handles.repository(order).send('o-1', { type: 'addItem', sku: 'tea', price: 4 })

  log(
    recorder
      .actors()
      .map((a) => a.name)
      .join(', '),
  ) // shop, order|o-1  (the gateway, then each aggregate)
  log(
    recorder
      .eventsOf('order|o-1')
      .map((e) => e.type)
      .join(', '),
  ) // xstate.init, itemAdded
  await recorder.close()
  // #endregion recorder

  // #region pipeline
  const phases: string[] = []
  handles.gateway.on('@statesource.command', (event: { phase: string }) => void phases.push(event.phase))
  await handles.repository(order).send('o-1', { type: 'submit' })
  log(phases.join(', ')) // received, persisted
  // #endregion pipeline
  await handles.stop()

  // #region relay
  const relay = await startInspectorRelay({ port: 0 }) // 127.0.0.1 only; port 0 picks a free one
  const inspector = connectInspector({ url: relay.wsUrl })
  const live = await topology.materialize({ inspect: inspector.inspect })
  log(`relay on ${new URL(relay.url).hostname}`) // open relay.url: a bridge page embedding the Stately inspector
  // #endregion relay
  await live.stop()
  inspector.stop()

  // #region stately
  // @statelyai/inspect as in any XState app: no wrapper needed, no warnings, compact gateway snapshots.
  const stately = createWebSocketInspector({ url: relay.wsUrl })
  const inspected = await topology.materialize({ inspect: stately.inspect })
  await inspected.repository(order).send('o-2', { type: 'addItem', sku: 'cup', price: 9 })
  log(String(JSON.stringify(inspected.gateway.getSnapshot()).length < 300)) // true: the gateway serializes to its counters
  // #endregion stately
  await inspected.stop()
  stately.stop()
  await relay.close()
  rmSync(dir, { recursive: true, force: true })
}
