import { join } from 'node:path'
import { CqrsPattern, defineAggregate } from '@statesource/core'
import { openSqlite } from '@statesource/sqlite'
import { describe, expect, it } from 'vitest'
import { setup } from 'xstate'
import { auditJournal, checkChart, exportChart, runCli, writeChartExports } from '../src/index.ts'
import { brokenOrder } from './broken-order.ts'
import { order, tempDir } from './fixtures.ts'
import { guardedOrder } from './guarded-order.ts'

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
      historyBreakingChanges: [],
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
      expect(clean).toEqual({ streams: 2, events: 9, unknownStreams: [], findings: [], groups: [], ok: true })

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
          statePath: 'checkout.payment.failed, checkout.shipping.packing',
          message:
            'Stored event 4 ("paymentRetried") of "order|o-2" is not accepted by the chart of aggregate "order" in state checkout.payment.failed, checkout.shipping.packing: no transition takes it. Fix the chart (or add an upcaster) so history replays.',
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
    expect(out).toEqual([
      'order: chart ok',
      'journal audit: 2 streams, 9 events, 0 broken; snapshots: 0 checked, 0 of another version, 0 unusable',
    ])

    out.length = 0
    expect(
      await runCli(['check', '--aggregates', join(import.meta.dirname, 'broken-order.ts'), file], io),
    ).toBe(1)
    expect(out).toContain(
      'journal audit: 2 streams, 9 events, 1 broken; snapshots: 0 checked, 0 of another version, 0 unusable',
    )
    expect(out).toContain(
      '1 stream: stored "paymentRetried" in state checkout.payment.failed, checkout.shipping.packing of aggregate "order": no transition takes it. At order|o-2#4',
    )
    expect(out).toContain('2 later events of those streams were not checked.')

    out.length = 0
    expect(await runCli(['check', '--aggregates', fixtures, join(dir, 'missing.db')], io)).toBe(1)
    expect(out.join('\n')).toContain('does not exist')
  })
})

describe('journal audit: causes', () => {
  async function writeRetries(file: string, streams: number) {
    const sqlite = await writeHistory(file)
    const handles = await CqrsPattern.builder({ journal: sqlite.journal })
      .withAggregate(order)
      .build()
      .materialize()
    for (let i = 3; i < 3 + streams; i++) {
      const orders = handles.repository(order)
      await orders.send(`o-${i}`, { type: 'addItem', sku: 'cup', price: 9 })
      await orders.send(`o-${i}`, { type: 'submit' })
      await orders.send(`o-${i}`, { type: 'failPayment', reason: 'declined' })
      await orders.send(`o-${i}`, { type: 'retryPayment' })
    }
    await handles.stop()
    return sqlite
  }

  it('names the guard that refused an event and its state, and groups streams by cause', async () => {
    const sqlite = await writeRetries(join(tempDir(), 'orders.db'), 8)
    try {
      const audit = await auditJournal(sqlite.journal, { aggregates: [guardedOrder] })
      expect(audit.findings).toHaveLength(9)
      expect(audit.findings[0]).toMatchObject({
        persistenceId: 'order|o-2',
        problem: 'guard-refused',
        guards: [{ guard: 'retryAllowed', state: 'checkout.payment.failed' }],
        statePath: 'checkout.payment.failed, checkout.shipping.packing',
      })
      expect(audit.findings[0]!.message).toBe(
        'Stored event 4 ("paymentRetried") of "order|o-2" is refused by guard "retryAllowed" (of state checkout.payment.failed) in state checkout.payment.failed, checkout.shipping.packing of aggregate "order": the guard returned false. Fix the chart (or add an upcaster) so history replays.',
      )
      expect(audit.groups).toEqual([
        {
          aggregateType: 'order',
          eventType: 'paymentRetried',
          problem: 'guard-refused',
          statePath: 'checkout.payment.failed, checkout.shipping.packing',
          guards: ['retryAllowed'],
          count: 9,
          examples: ['order|o-2#4', 'order|o-3#4', 'order|o-4#4', 'order|o-5#4', 'order|o-6#4'],
          message:
            'stored "paymentRetried" in state checkout.payment.failed, checkout.shipping.packing of aggregate "order": refused by guard "retryAllowed" (of state checkout.payment.failed)',
        },
      ])
    } finally {
      await sqlite.close()
    }
  })

  it('prints one line per cause and, with --json, one JSON document', async () => {
    const file = join(tempDir(), 'orders.db')
    await (await writeRetries(file, 8)).close()
    const out: string[] = []
    const io = { out: (l: string) => out.push(l), err: (l: string) => out.push(l) }
    const guarded = join(import.meta.dirname, 'guarded-order.ts')
    expect(await runCli(['check', '--aggregates', guarded, file], io)).toBe(1)
    expect(out.filter((l) => l.includes('refused by guard "retryAllowed"'))).toEqual([
      '9 streams: stored "paymentRetried" in state checkout.payment.failed, checkout.shipping.packing of aggregate "order": refused by guard "retryAllowed" (of state checkout.payment.failed). At order|o-2#4, order|o-3#4, order|o-4#4, order|o-5#4, order|o-6#4, ... (4 more)',
    ])

    out.length = 0
    expect(await runCli(['check', '--aggregates', guarded, '--json', file], io)).toBe(1)
    expect(out).toHaveLength(1)
    const report = JSON.parse(out[0]!)
    expect(report.ok).toBe(false)
    expect(report.charts[0]).toMatchObject({ aggregate: 'order', ok: true })
    expect(report.audit.groups[0]).toMatchObject({ count: 9, guards: ['retryAllowed'] })
    expect(report.audit.findings).toHaveLength(9)
    expect(report.audit.snapshots).toEqual({ checked: 0, stale: 0, findings: [] })
  })

  it('checks snapshots: unrestorable, disagreeing with the journal, past its end, or of another version', async () => {
    const sqlite = await writeHistory(join(tempDir(), 'orders.db'))
    try {
      const runtime = order.runtime
      let state = runtime.initial()
      state = runtime.step(state, { type: 'itemAdded', sku: 'tea', price: 4 } as { type: string })
      const body = (machine: unknown) => ({ format: 'statesource.snapshot.v1', machine, dedupe: [] })
      const save = (persistenceId: string, seqNr: number, machine: unknown, machineVersion = order.version) =>
        sqlite.snapshotStore.save({
          persistenceId,
          seqNr,
          state: body(machine),
          machineVersion,
          timestamp: 0,
        })
      // o-1 at event 1: the right state, but a total the journal never had.
      const wrong = runtime.persist(state) as { context: { total: number } }
      await save('order|o-1', 1, { ...wrong, context: { ...wrong.context, total: 400 } })
      // o-2: a state this chart does not have.
      await save('order|o-2', 2, { ...(runtime.persist(state) as object), value: 'archived' })
      const audit = await auditJournal(sqlite.journal, {
        aggregates: [order],
        snapshotStore: sqlite.snapshotStore,
      })
      expect(audit.snapshots?.findings.map((f) => [f.persistenceId, f.problem])).toEqual([
        ['order|o-1', 'disagrees'],
        ['order|o-2', 'unrestorable'],
      ])
      expect(audit.snapshots!.findings[0]!.message).toContain('"total":400')
      expect(audit.ok).toBe(false)

      await save('order|o-1', 50, runtime.persist(state))
      await sqlite.snapshotStore.deleteTo('order|o-2', 10)
      await save('order|o-2', 1, runtime.persist(state), 'some-other-version')
      const later = await auditJournal(sqlite.journal, {
        aggregates: [order],
        snapshotStore: sqlite.snapshotStore,
      })
      expect(later.snapshots).toMatchObject({ checked: 2, stale: 1 })
      expect(later.snapshots?.findings.map((f) => [f.persistenceId, f.problem])).toEqual([
        ['order|o-1', 'ahead-of-journal'],
      ])
    } finally {
      await sqlite.close()
    }
  })
})

describe('chart checks against a baseline', () => {
  const baseline = exportChart(order).config

  it('finds the changes that break stored history: removed transitions and added guards', () => {
    expect(checkChart(order, { baseline }).historyBreakingChanges).toEqual([])
    const removed = checkChart(brokenOrder, { baseline })
    expect(removed.ok).toBe(false)
    expect(removed.historyBreakingChanges).toEqual([
      {
        kind: 'transition-removed',
        state: 'order.checkout.payment.failed',
        eventType: 'paymentRetried',
        message:
          'state "checkout.payment.failed" on "paymentRetried": the transition was removed, so stored "paymentRetried" events met there are refused.',
      },
    ])
    expect(checkChart(guardedOrder, { baseline: order.machine }).historyBreakingChanges).toEqual([
      {
        kind: 'guard-added',
        state: 'order.checkout.payment.failed',
        eventType: 'paymentRetried',
        message:
          'state "checkout.payment.failed" on "paymentRetried": the transition is now guarded by "retryAllowed"; stored events it took are refused where the guard returns false.',
      },
    ])
  })

  it('finds removed states, moved targets and a new initial state', () => {
    const machine = setup({}).createMachine({
      id: 'ticket',
      initial: 'open',
      states: { open: { on: { closed: 'closed', escalated: 'escalated' } }, escalated: {}, closed: {} },
    })
    const changed = setup({}).createMachine({
      id: 'ticket',
      initial: 'triage',
      states: { triage: {}, open: { on: { closed: 'triage', escalated: 'open' } }, closed: {} },
    })
    const ticket = defineAggregate({
      type: 'ticket',
      machine: changed,
      commands: { close: () => ({ type: 'closed' }) },
    })
    expect(
      checkChart(ticket, { baseline: exportChart(machine).config }).historyBreakingChanges.map((c) => c.kind),
    ).toEqual(['initial-changed', 'target-changed', 'target-changed', 'state-removed'])
  })

  it('is what `statesource check --baseline <dir>` runs, with the exports as the baseline', async () => {
    const dir = tempDir()
    await writeChartExports([order], dir)
    const out: string[] = []
    const io = { out: (l: string) => out.push(l), err: (l: string) => out.push(l) }
    expect(
      await runCli(
        ['check', '--aggregates', join(import.meta.dirname, 'fixtures.ts'), '--baseline', dir],
        io,
      ),
    ).toBe(0)
    expect(out).toEqual(['order: chart ok (no history-breaking change from the baseline)'])
    out.length = 0
    expect(
      await runCli(
        ['check', '--aggregates', join(import.meta.dirname, 'broken-order.ts'), '--baseline', dir],
        io,
      ),
    ).toBe(1)
    expect(out).toContain(
      'order: state "checkout.payment.failed" on "paymentRetried": the transition was removed, so stored "paymentRetried" events met there are refused.',
    )
    out.length = 0
    expect(
      await runCli(
        ['check', '--aggregates', join(import.meta.dirname, 'fixtures.ts'), '--baseline', tempDir()],
        io,
      ),
    ).toBe(1)
    expect(out[0]).toContain('No baseline chart for aggregate "order"')
  })
})
