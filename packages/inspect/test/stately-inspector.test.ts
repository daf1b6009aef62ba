import type { AddressInfo } from 'node:net'
import { createBrowserInspector, createWebSocketInspector } from '@statelyai/inspect'
import { CqrsPattern, createInMemoryJournal } from '@statesource/core'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { WebSocketServer } from 'ws'
import type { InspectionEvent } from 'xstate'
import { order } from './fixtures.ts'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
  vi.restoreAllMocks()
})

interface Message {
  type: string
  name?: string
  sessionId: string
  sourceId?: string
  event?: { type: string }
  snapshot?: unknown
}

/** Twelve commands over three orders, one of them rejected: a small but complete session. */
async function runSession(inspect: (event: InspectionEvent) => void) {
  const handles = await CqrsPattern.builder({ journal: createInMemoryJournal(), name: 'shop' })
    .withAggregate(order)
    .build()
    .materialize({ inspect })
  const orders = handles.repository(order)
  for (const id of ['o-1', 'o-2', 'o-3']) {
    await orders.send(id, { type: 'addItem', sku: 'tea', price: 4 })
    await orders.send(id, { type: 'submit' })
  }
  await orders.send('o-1', { type: 'authorizePayment', reference: 'p-1' })
  await orders.send('o-1', { type: 'pack' })
  await orders.send('o-1', { type: 'ship', carrier: 'dhl' })
  await orders.send('o-2', { type: 'failPayment', reason: 'declined' })
  await orders.send('o-2', { type: 'retryPayment' })
  await expect(orders.send('o-3', { type: 'ship', carrier: 'dhl' })).rejects.toThrow('not authorized')
  return handles
}

function checkSession(messages: Message[]) {
  const actors = messages.filter((m) => m.type === '@xstate.actor')
  const gateway = actors.find((a) => a.name === 'shop')!
  expect(gateway).toBeDefined()
  expect(actors.filter((a) => a.name?.startsWith('order|')).map((a) => a.name)).toEqual([
    'order|o-1',
    'order|o-2',
    'order|o-3',
  ])
  // Every domain event an aggregate receives comes from the gateway, so the sequence view draws arrows.
  const aggregateSessions = new Set(
    actors.filter((a) => a.name?.startsWith('order|')).map((a) => a.sessionId),
  )
  const domainEvents = messages.filter(
    (m) =>
      m.type === '@xstate.event' &&
      aggregateSessions.has(m.sessionId) &&
      !m.event!.type.startsWith('xstate.'),
  )
  expect(domainEvents).toHaveLength(11)
  expect(new Set(domainEvents.map((m) => m.sourceId))).toEqual(new Set([gateway.sessionId]))
  // Only what the Stately inspector knows.
  expect(new Set(messages.map((m) => m.type))).toEqual(
    new Set(['@xstate.actor', '@xstate.event', '@xstate.snapshot']),
  )
  const gatewaySnapshots = messages.filter(
    (m) => m.type === '@xstate.snapshot' && m.sessionId === gateway.sessionId,
  )
  expect(gatewaySnapshots.length).toBeGreaterThan(12)
  const largest = Math.max(...gatewaySnapshots.map((m) => JSON.stringify(m.snapshot).length))
  expect(gatewaySnapshots[0]!.snapshot).toEqual({
    status: 'active',
    context: { stats: expect.objectContaining({ commands: expect.any(Number) }) },
  })
  return { gateway, largest }
}

describe('the plain Stately inspector passed straight to materialize', () => {
  it('createWebSocketInspector: no warnings, gateway -> aggregate sourceIds, compact gateway snapshots', async () => {
    const warn = vi.spyOn(console, 'warn')
    // A stand-in for the inspector server (`@statelyai/inspect/server` or startInspectorRelay): it only receives.
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1' })
    await new Promise((resolve) => server.once('listening', resolve))
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
    const raw: string[] = []
    server.on('connection', (socket) => socket.on('message', (data) => raw.push(data.toString())))

    const inspector = createWebSocketInspector({
      url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`,
    })
    cleanups.push(() => inspector.stop())
    const handles = await runSession(inspector.inspect.next!)
    await handles.stop()
    // The inspector converts on a timer and sends over the socket: wait for the last aggregate event.
    await vi.waitFor(
      () => {
        expect(raw.some((m) => m.includes('"type":"paymentRetried"') && m.includes('@xstate.snapshot'))).toBe(
          true,
        )
      },
      { timeout: 10_000 },
    )
    const messages = raw.map((m) => JSON.parse(m) as Message)
    const { largest } = checkSession(messages)

    expect(warn).not.toHaveBeenCalled()
    expect(largest).toBeLessThan(300)
    const bytes = raw.reduce((n, m) => n + Buffer.byteLength(m), 0)
    // The figures the inspection guide quotes.
    console.info(
      `plain WebSocket inspector: ${messages.length} messages, ${bytes} bytes, largest gateway snapshot ${largest} bytes, ${warn.mock.calls.length} warnings`,
    )
    expect(bytes).toBeLessThan(120_000)
  })

  it('createBrowserInspector: the same events reach the inspector window, with no warnings', async () => {
    const warn = vi.spyOn(console, 'warn')
    const posted: Message[] = []
    const listeners: ((event: { data: unknown }) => void)[] = []
    // The window the app runs in and the inspector window it opens: just enough of both for the adapter.
    const inspectorWindow = { postMessage: (message: Message) => void posted.push(message) }
    const appWindow = {
      open: () => inspectorWindow,
      addEventListener: (_type: string, listener: (event: { data: unknown }) => void) =>
        void listeners.push(listener),
    }
    const inspector = createBrowserInspector({ window: appWindow as never })
    for (const listener of listeners) listener({ data: { type: '@statelyai.connected' } })
    const handles = await runSession(inspector.inspect.next!)
    await handles.stop()
    await vi.waitFor(() => {
      expect(posted.some((m) => m.type === '@xstate.snapshot' && m.event?.type === 'paymentRetried')).toBe(
        true,
      )
    })
    const { largest } = checkSession(posted)
    expect(largest).toBeLessThan(300)
    expect(warn).not.toHaveBeenCalled()
  })
})
