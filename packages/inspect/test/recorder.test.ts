import { join } from 'node:path'
import { CqrsPattern, createInMemoryJournal } from '@statesource/core'
import { startServerCommand } from '@statesource/test-support/server-command'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { createActor, setup, spawnChild } from 'xstate'
import {
  connectInspector,
  createInspectionRecorder,
  readInspectionLog,
  runCli,
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
    // The gateway's pipeline events are recorded here too, though the recorder never met materialize.
    const persisted = recorder.records.filter((r) => r.type === '@statesource.persisted')
    expect(persisted.map((p) => p.sessionId)).toEqual([
      gatewayActor!.sessionId,
      gatewayActor!.sessionId,
      gatewayActor!.sessionId,
    ])
    // Domain events come from the gateway.
    const sent = recorder.records.filter(
      (r) =>
        r.type === '@xstate.event' && r.sessionId === child.sessionId && !r.event.type.startsWith('xstate.'),
    ) as { sourceId?: string }[]
    expect(sent.map((e) => e.sourceId)).toEqual([
      gatewayActor!.sessionId,
      gatewayActor!.sessionId,
      gatewayActor!.sessionId,
    ])
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

describe('statesource replay', () => {
  async function record(file: string) {
    const recorder = createInspectionRecorder({ file })
    const handles = await CqrsPattern.builder({ journal: createInMemoryJournal() })
      .withAggregate(order)
      .build()
      .materialize({ inspect: recorder.inspect })
    await handles.repository(order).send('o-1', { type: 'addItem', sku: 'tea', price: 4 })
    await handles.repository(order).send('o-1', { type: 'submit' })
    await handles.stop()
    await recorder.close()
    return (await readInspectionLog(file)).filter((e) => e.type.startsWith('@xstate.'))
  }

  function receive(url: string, count: number) {
    const socket = new WebSocket(url)
    cleanups.push(() => socket.close())
    const received: unknown[] = []
    return new Promise<unknown[]>((resolve) => {
      socket.on('message', (data) => {
        received.push(JSON.parse(data.toString()))
        if (received.length === count) resolve(received)
      })
    })
  }

  it('sends a recording to a running inspector server, in order, without the pipeline lines', async () => {
    const file = join(tempDir(), 'inspection.jsonl')
    const expected = await record(file)
    expect(expected.length).toBeGreaterThan(10)
    const relay = await startInspectorRelay({ port: 0 })
    cleanups.push(() => relay.close())
    // The relay replays what it buffered to a receiver that connects late, so the order does not matter.
    const receiving = receive(relay.wsUrl, expected.length)
    const out: string[] = []
    const code = await runCli(['replay', file, '--to', relay.wsUrl], {
      out: (l) => out.push(l),
      err: (l) => out.push(l),
    })
    expect(code).toBe(0)
    expect(out).toEqual([`sent ${expected.length} inspection events to ${relay.wsUrl}`])
    expect(await receiving).toEqual(expected)
  })

  it('starts a relay that shows the whole recording to each page that connects', async () => {
    const file = join(tempDir(), 'inspection.jsonl')
    const expected = await record(file)
    const out: string[] = []
    const replay = await startServerCommand((hooks) =>
      runCli(['replay', file, '--port', '0'], { out: (l) => out.push(l), err: (l) => out.push(l), ...hooks }),
    )
    cleanups.push(async () => void (await replay.stop()))
    expect(out[0]).toBe(`statesource replay: ${expected.length} inspection events; open ${replay.url}`)
    const wsUrl = replay.url.replace('http://', 'ws://').replace(/\/$/, '')
    expect(await receive(wsUrl, expected.length)).toEqual(expected)
    // A second page gets all of it again.
    expect(await receive(wsUrl, expected.length)).toEqual(expected)
  })

  it('says what to do when the recording or the server is missing', async () => {
    const out: string[] = []
    const io = { out: (l: string) => out.push(l), err: (l: string) => out.push(l) }
    expect(await runCli(['replay', join(tempDir(), 'none.jsonl')], io)).toBe(1)
    expect(out[0]).toContain('does not exist. Pass a file written by createInspectionRecorder')
    const file = join(tempDir(), 'inspection.jsonl')
    await record(file)
    expect(await runCli(['replay', file, '--to', 'ws://127.0.0.1:9'], io)).toBe(1)
    expect(out[1]).toContain('Cannot connect to the inspector server at "ws://127.0.0.1:9"')
  })
})
