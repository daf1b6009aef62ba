import { join } from 'node:path'
import { createInMemoryJournal } from '@statesource/core'
import { openSqlite } from '@statesource/sqlite'
import { afterEach, describe, expect, it } from 'vitest'
import { startViewer } from '../src/index.ts'
import { order, tempDir } from './fixtures.ts'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

describe('viewer server', () => {
  it('replays a 10,000-event history in pages, with the state of any page', async () => {
    const sqlite = await openSqlite(join(tempDir(), 'long.db'))
    cleanups.push(() => sqlite.close())
    const events = Array.from({ length: 10_000 }, (_, i) => ({
      type: 'itemAdded',
      version: 1,
      payload: { sku: `sku-${i + 1}`, price: 1 },
      tags: [],
      metadata: {},
    }))
    for (let i = 0; i < events.length; i += 1000) {
      const [outcome] = await sqlite.journal.append([
        { persistenceId: 'order|long', expectedSeqNr: i, events: events.slice(i, i + 1000) },
      ])
      expect(outcome?.ok).toBe(true)
    }
    const viewer = await startViewer({ source: sqlite.journal, aggregates: [order], pageSize: 200 })
    cleanups.push(() => viewer.close())
    const get = async (path: string) => {
      const res = await fetch(new URL(path, viewer.url))
      return { status: res.status, body: (await res.json()) as any }
    }

    const aggregate = await get('api/aggregate?pid=order%7Clong')
    expect(aggregate.body).toMatchObject({
      persistenceId: 'order|long',
      type: 'order',
      id: 'long',
      events: 10_000,
      pageSize: 200,
    })
    expect(aggregate.body.chart.stateIds['order.checkout.payment']).toBe('s_order__checkout__payment')
    expect(aggregate.body.initial.activeStates).toEqual(['order', 'order.draft'])

    const last = await get('api/steps?pid=order%7Clong&from=9801&limit=5000')
    expect(last.body.steps).toHaveLength(200)
    expect(last.body.steps[0].seqNr).toBe(9801)
    expect(last.body.steps.at(-1).state.context).toEqual({ items: 10_000, total: 10_000, attempts: 0 })
    const middle = await get('api/steps?pid=order%7Clong&from=4001&limit=1')
    expect(middle.body.steps.map((s: any) => [s.seqNr, s.payload.sku, s.state.context.items])).toEqual([
      [4001, 'sku-4001', 4001],
    ])

    const streams = await get('api/streams?q=LON')
    expect(streams.body.streams).toEqual([{ persistenceId: 'order|long', type: 'order', id: 'long' }])
    expect(streams.body.types).toEqual([{ type: 'order', count: 1, chart: true }])
    expect((await get('api/steps?pid=order%7Clong&from=0')).body.error).toContain(
      '"from" must be a positive integer',
    )
  })

  it('lists streams and events without aggregates, and marks events the chart refuses', async () => {
    const journal = createInMemoryJournal()
    await journal.append([
      {
        persistenceId: 'order|odd',
        expectedSeqNr: 0,
        events: [
          { type: 'packed', version: 1, payload: {}, tags: [], metadata: { userId: 'ada' } },
          { type: 'itemAdded', version: 1, payload: { sku: 'tea', price: 2 }, tags: [], metadata: {} },
        ],
      },
    ])
    const bare = await startViewer({ source: journal })
    cleanups.push(() => bare.close())
    const aggregate = (await (await fetch(`${bare.url}api/aggregate?pid=order%7Codd`)).json()) as any
    expect(aggregate.chart).toBeNull()
    const steps = (await (await fetch(`${bare.url}api/steps?pid=order%7Codd`)).json()) as any
    expect(steps.steps.map((s: any) => [s.type, s.metadata, 'state' in s, s.check])).toEqual([
      ['packed', { userId: 'ada' }, false, 'not-replayed'],
      ['itemAdded', {}, false, 'not-replayed'],
    ])

    const withChart = await startViewer({ source: journal, aggregates: [order] })
    cleanups.push(() => withChart.close())
    const replayed = (await (await fetch(`${withChart.url}api/steps?pid=order%7Codd`)).json()) as any
    expect(replayed.steps[0].problem).toContain('"packed") of "order|odd" is not accepted')
    expect(replayed.steps[0].check).toBe('refused')
    // After a refusal the state is unknown: later events are marked, not replayed from a wrong state.
    expect(replayed.steps[1]).toMatchObject({ check: 'not-checked', refusedAt: 1 })
    expect(replayed.steps[1].state.context.items).toBe(0)
  })

  it('refuses to listen on a non-loopback address', async () => {
    await expect(startViewer({ source: createInMemoryJournal(), host: '0.0.0.0' })).rejects.toThrow(
      'The viewer listens on loopback only, got host "0.0.0.0"',
    )
  })
})
