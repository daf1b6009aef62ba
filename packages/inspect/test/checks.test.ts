import { join } from 'node:path'
import { CqrsPattern, defineAggregate } from '@statesource/core'
import { openSqlite } from '@statesource/sqlite'
import { describe, expect, it } from 'vitest'
import { setup } from 'xstate'
import { auditJournal, checkChart, runCli } from '../src/index.ts'
import { brokenOrder } from './broken-order.ts'
import { order, tempDir } from './fixtures.ts'

async function writeHistory(file: string) {
  const sqlite = await openSqlite(file)
  const handles = await CqrsPattern.builder({ journal: sqlite.journal })
    .withAggregate(order)
    .build()
    .materialize()
  const orders = handles.repository(order)
  await orders.send('o-1', { type: 'addItem', sku: 'tea', price: 4 })
  await orders.send('o-1', { type: 'submit' })
  await orders.send('o-1', { type: 'authorizePayment', reference: 'p-1' })
  await orders.send('o-2', { type: 'addItem', sku: 'cup', price: 9 })
  await orders.send('o-2', { type: 'submit' })
  await orders.send('o-2', { type: 'failPayment', reason: 'declined' })
  await orders.send('o-2', { type: 'retryPayment' })
  await orders.send('o-2', { type: 'authorizePayment', reference: 'p-2' })
  await orders.send('o-2', { type: 'pack' })
  await handles.stop()
  return sqlite
}

describe('chart checks', () => {
  it('passes a chart whose states are all reachable and whose events decide produces', () => {
    expect(checkChart(order)).toEqual({
      aggregate: 'order',
      unreachableStates: [],
      eventsNoDecideProduces: [],
      eventsTheChartIgnores: [],
      ok: true,
    })
  })

  it('finds states no event reaches, events no decide produces and decided events the chart ignores', () => {
    const machine = setup({}).createMachine({
      id: 'ticket',
      initial: 'open',
      states: {
        open: { on: { closed: 'closed', escalated: 'escalated' } },
        escalated: { on: { closed: 'closed' } },
        closed: {},
        archived: { initial: 'cold', states: { cold: {}, frozen: {} } },
        review: { type: 'parallel', states: { a: {}, b: {} } },
      },
    })
    const ticket = defineAggregate({
      type: 'ticket',
      machine,
      commands: {
        close: () => ({ type: 'closed' }),
        reopen: () => ({ type: 'reopened' }),
      },
    })
    const result = checkChart(ticket)
    expect(result.unreachableStates).toEqual([
      'ticket.archived',
      'ticket.archived.cold',
      'ticket.archived.frozen',
      'ticket.review',
      'ticket.review.a',
      'ticket.review.b',
    ])
    expect(result.eventsNoDecideProduces).toEqual(['escalated'])
    expect(result.eventsTheChartIgnores).toEqual(['reopened'])
    expect(result.ok).toBe(false)
  })
})

describe('journal audit', () => {
  it('finds the stored event a chart change broke, in a real SQLite journal', async () => {
    const file = join(tempDir(), 'orders.db')
    const sqlite = await writeHistory(file)
    try {
      const clean = await auditJournal(sqlite.journal, { aggregates: [order] })
      expect(clean).toEqual({ streams: 2, events: 9, unknownStreams: [], findings: [], ok: true })

      const broken = await auditJournal(sqlite.journal, { aggregates: [brokenOrder], pageSize: 2 })
      expect(broken.ok).toBe(false)
      expect(broken.findings).toEqual([
        {
          persistenceId: 'order|o-2',
          seqNr: 4,
          ordering: 7,
          eventType: 'paymentRetried',
          problem: 'not-accepted',
          state: '{"checkout":{"payment":"failed","shipping":"packing"}}',
          message:
            'Stored event 4 ("paymentRetried") of "order|o-2" is not accepted by the chart of aggregate "order" in state {"checkout":{"payment":"failed","shipping":"packing"}}. Fix the chart (or add an upcaster) so history replays.',
          uncheckedAfter: 2,
        },
      ])

      const none = await auditJournal(sqlite.journal, { aggregates: [] })
      expect(none.unknownStreams).toEqual(['order|o-1', 'order|o-2'])
    } finally {
      await sqlite.close()
    }
  })

  it('is what `statesource check` runs over a database, exiting 1 on a broken history', async () => {
    const dir = tempDir()
    const file = join(dir, 'orders.db')
    await (await writeHistory(file)).close()
    const out: string[] = []
    const io = { out: (l: string) => out.push(l), err: (l: string) => out.push(l) }
    const fixtures = join(import.meta.dirname, 'fixtures.ts')
    expect(await runCli(['check', '--aggregates', fixtures, file], io)).toBe(0)
    expect(out).toEqual(['order: chart ok', 'journal audit: 2 streams, 9 events, 0 broken'])

    out.length = 0
    expect(
      await runCli(['check', '--aggregates', join(import.meta.dirname, 'broken-order.ts'), file], io),
    ).toBe(1)
    expect(out).toContain('journal audit: 2 streams, 9 events, 1 broken')
    expect(out.find((l) => l.startsWith('order|o-2#4: '))).toContain('(2 later events not checked)')

    out.length = 0
    expect(await runCli(['check', '--aggregates', fixtures, join(dir, 'missing.db')], io)).toBe(1)
    expect(out[1]).toContain('does not exist')
  })
})
