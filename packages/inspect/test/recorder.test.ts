import { join } from 'node:path'
import { CqrsPattern, createInMemoryJournal } from '@statesource/core'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { createActor, setup, spawnChild } from 'xstate'
import {
  connectInspector,
  createInspectionRecorder,
  readInspectionLog,
  startInspectorRelay,
} from '../src/index.ts'
import { order, tempDir } from './fixtures.ts'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const domainEvents = (events: { type: string }[]) =>
  events.map((e) => e.type).filter((t) => !t.startsWith('xstate.'))

describe('inspection recorder', () => {
  it('sees one actor per aggregate and each persisted event on it, and writes them as JSON lines', async () => {
    const file = join(tempDir(), 'inspection.jsonl')
    const recorder = createInspectionRecorder({ file })
    const handles = await CqrsPattern.builder({ journal: createInMemoryJournal() })
      .withAggregate(order)
      .build()
      .materialize({ inspect: recorder.inspect })
    cleanups.push(() => handles.stop())
    const orders = handles.repository(order)
    await orders.send('o-1', { type: 'addItem', sku: 'tea', price: 4 })
    await orders.send('o-1', { type: 'submit' })
    await orders.send('o-2', { type: 'addItem', sku: 'cup', price: 9 })
    await orders.send('o-1', { type: 'authorizePayment', reference: 'pay-1' })
    // A rejected command persists nothing, so the aggregate must not receive an event for it.
    await expect(orders.send('o-2', { type: 'ship', carrier: 'dhl' })).rejects.toThrow('not authorized')
    await recorder.close()

    const aggregates = recorder.actors().filter((a) => a.name.startsWith('order|'))
    expect(aggregates.map((a) => a.name).sort()).toEqual(['order|o-1', 'order|o-2'])
    expect(domainEvents(recorder.eventsOf('order|o-1'))).toEqual([
      'itemAdded',
      'submitted',
      'paymentAuthorized',
    ])
    expect(domainEvents(recorder.eventsOf('order|o-2'))).toEqual(['itemAdded'])
    expect(recorder.eventsOf('order|o-1')[0]).toMatchObject({ type: 'xstate.init' })
    expect(recorder.eventsOf('order|o-1')[1]).toEqual({ type: 'itemAdded', sku: 'tea', price: 4 })
    // The definition is the Stately export of the chart, so the inspector draws it with named actions.
    const definition = JSON.parse(aggregates[0]!.definition!)
    expect(definition.id).toBe('order')
    expect(definition.states.draft.on.itemAdded.actions).toBe('addItem')
    const persisted = recorder.records.filter((r) => r.type === '@statesource.persisted') as {
      persistenceId?: unknown
      events?: unknown
    }[]
    expect(persisted.map((p) => [p.persistenceId, p.events])).toEqual([
      ['order|o-1', ['itemAdded']],
      ['order|o-1', ['submitted']],
      ['order|o-2', ['itemAdded']],
      ['order|o-1', ['paymentAuthorized']],
    ])

    const fromFile = await readInspectionLog(file)
    expect(fromFile).toEqual(JSON.parse(JSON.stringify(recorder.records)))
  })

  it('sees the aggregates of a gateway spawned inside a user system', async () => {
    const recorder = createInspectionRecorder()
    const topology = CqrsPattern.builder({ journal: createInMemoryJournal() }).withAggregate(order).build()
    const app = setup({}).createMachine({
      id: 'app',
      entry: spawnChild(topology.gateway, { systemId: 'orders' }),
    })
    const system = createActor(app, { inspect: recorder.inspect }).start()
    const gateway = system.system.get('orders')
    const handles = await topology.materialize({ gateway })
    cleanups.push(async () => {
      await handles.stop()
      system.stop()
    })
    await handles.repository(order).send('o-9', { type: 'addItem', sku: 'pot', price: 20 })
    await handles.repository(order).send('o-9', { type: 'submit' })
    await handles.repository(order).send('o-9', { type: 'cancel', reason: 'changed my mind' })

    const names = recorder.actors().map((a) => a.name)
    expect(names).toContain('order|o-9')
    const child = recorder.actors().find((a) => a.name === 'order|o-9')!
    const gatewayActor = recorder.actors().find((a) => a.sessionId === child.parentId)
    expect(gatewayActor?.parentId).toBe(recorder.actors().find((a) => a.name === 'app')?.sessionId)
    expect(domainEvents(recorder.eventsOf('order|o-9'))).toEqual(['itemAdded', 'submitted', 'cancelled'])
  })

  it('relays inspection events over a loopback WebSocket to a connected receiver', async () => {
    const relay = await startInspectorRelay({ port: 0 })
    cleanups.push(() => relay.close())
    expect(relay.wsUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/)
    const received: { type: string; name?: string; event?: { type: string } }[] = []
    const receiver = new WebSocket(relay.wsUrl)
    await new Promise((resolve) => receiver.once('open', resolve))
    cleanups.push(() => receiver.close())
    const sawEvent = new Promise<void>((resolve) => {
      receiver.on('message', (data) => {
        const message = JSON.parse(data.toString())
        received.push(message)
        if (message.type === '@xstate.event' && message.event?.type === 'itemAdded') resolve()
      })
    })

    const inspector = connectInspector({ url: relay.wsUrl })
    cleanups.push(() => inspector.stop())
    const handles = await CqrsPattern.builder({ journal: createInMemoryJournal() })
      .withAggregate(order)
      .build()
      .materialize({ inspect: inspector.inspect })
    cleanups.push(() => handles.stop())
    await handles.repository(order).send('o-5', { type: 'addItem', sku: 'tea', price: 4 })
    await sawEvent

    expect(received.some((m) => m.type === '@xstate.actor' && m.name === 'order|o-5')).toBe(true)
    const page = await (await fetch(relay.url)).text()
    expect(page).toContain('https://stately.ai/inspect')
  })
})
