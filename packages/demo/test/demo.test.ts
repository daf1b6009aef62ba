import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { runCli } from '@statesource/inspect'
import { openSqlite } from '@statesource/sqlite'
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import { initialTransition, transition } from 'xstate'
import { order } from '../src/aggregates.ts'
import { type DemoSummary, runDemo } from '../src/app.ts'
import { ORDER_STATUSES } from '../src/read-models.ts'
import { fateOf } from '../src/workload.ts'

const packageDir = fileURLToPath(new URL('..', import.meta.url))
const dir = mkdtempSync(path.join(tmpdir(), 'statesource-demo-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
afterEach(() => vi.restoreAllMocks())

// Long enough that no payment window closes while a run is going: the expiries stay pending at exit.
const WINDOW = 600_000
const unpaidAmong = (first: number, last: number) => {
  let n = 0
  for (let i = first; i <= last; i++) if (fateOf(i) === 'unpaid') n++
  return n
}

async function journalTotals(file: string) {
  const sqlite = await openSqlite(file)
  const db = sqlite.db!
  try {
    const rows = db
      .prepare(
        "SELECT event_type, payload FROM statesource_journal WHERE event_type IN ('captured', 'refunded')",
      )
      .all() as { event_type: string; payload: string }[]
    const sum = (type: string) =>
      rows
        .filter((r) => r.event_type === type)
        .reduce((s, r) => s + (JSON.parse(r.payload) as { amount: number }).amount, 0)
    const orders = db
      .prepare("SELECT count(*) AS n FROM statesource_stream WHERE persistence_id LIKE 'order|%'")
      .get() as {
      n: number
    }
    const gaps = db
      .prepare(
        'SELECT count(*) AS n FROM (SELECT persistence_id, count(*) AS c, max(seq_nr) AS m FROM statesource_journal GROUP BY persistence_id) WHERE c != m',
      )
      .get() as { n: number }
    return { captured: sum('captured'), refunded: sum('refunded'), orders: orders.n, streamsWithGaps: gaps.n }
  } finally {
    await sqlite.close()
  }
}

const sumOf = (summary: DemoSummary, key: 'captured' | 'refunded') =>
  summary.projections.revenuePerDay.reduce((s, day) => s + day[key], 0)

describe('the order-fulfilment demo', () => {
  const file = path.join(dir, 'shop.db')
  let first: DemoSummary
  let second: DemoSummary

  it('runs the whole shop on a new SQLite file', async () => {
    first = await runDemo({
      dbPath: file,
      orders: 150,
      concurrency: 20,
      paymentWindowMs: WINDOW,
      quiet: true,
    })
    expect(first.run).toBe(1)
    expect(first.orders).toEqual({ first: 1, last: 150, count: 150 })
    expect(first.commands.unexpected).toEqual([])
    expect(first.gatewayInAppSystem).toBe(true)
    // Order 10 arrives malformed, order 4's customer tries to cancel after delivery.
    expect(first.commands.rejected).toBe(2)
    expect(first.commands.rejectionExamples.validation).toBe(
      'Command "place" for "order|o-000010" was rejected by interceptor "validate-order": lines.0.quantity: must be at least 1',
    )
    expect(first.commands.rejectionExamples.authorization).toBe(
      'Command "cancel" for "order|o-000004" was rejected by interceptor "authorize": a customer can cancel only before packing starts; this order is fulfilment.delivered',
    )
    expect(first.commands.accepted).toBe(first.commands.sent - 2)
    // Every persisted event reached the RxJS pipeline through the tap, and the journal holds nothing else.
    expect(first.events.tapped).toBe(first.events.persisted)
    expect(first.events.inJournal).toBe(first.events.persisted)
    const unpaid = unpaidAmong(1, 150)
    expect(unpaid).toBeGreaterThan(0)
    expect(first.schedules).toMatchObject({
      scheduled: 150,
      cancelled: 150 - unpaid,
      firedAtStartup: 0,
      expiredOrders: 0,
      pendingAtExit: unpaid,
    })
    const counts = first.projections.ordersByStatus
    expect(counts.awaitingPayment).toBe(unpaid)
    expect(ORDER_STATUSES.reduce((s, status) => s + counts[status], 0)).toBe(150)
    expect(first.projections.offsets['orders-by-status']).toBe(first.events.inJournal)
    expect(first.projections.audit).toHaveLength(5)
    expect(first.notifications).toBeGreaterThan(0)
    const totals = await journalTotals(file)
    expect(sumOf(first, 'captured')).toBe(totals.captured)
    expect(sumOf(first, 'refunded')).toBe(totals.refunded)
  })

  it('continues from the same database on a second run: recovery, offsets and schedules', async () => {
    // The second run starts "an hour later": every payment window left open by the first run has closed.
    const realNow = Date.now.bind(Date)
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() + 3_600_000)
    second = await runDemo({
      dbPath: file,
      orders: 100,
      concurrency: 20,
      paymentWindowMs: WINDOW,
      quiet: true,
    })
    vi.restoreAllMocks()

    expect(second.run).toBe(2)
    expect(second.orders).toEqual({ first: 151, last: 250, count: 100 })
    expect(second.commands.unexpected).toEqual([])
    // Overdue expiries fired at start-up and cancelled exactly the first run's unpaid orders.
    expect(second.schedules.firedAtStartup).toBe(first.schedules.pendingAtExit)
    expect(second.schedules.expiredOrders).toBe(first.schedules.pendingAtExit)
    expect(second.schedules.pendingAtExit).toBe(unpaidAmong(151, 250))
    // Returns of orders 7, 57 and 107 went to payment aggregates recovered from the journal and snapshots.
    expect(second.returns).toEqual({ sent: 3, refunded: 3 })
    // Projections resumed from their stored offsets instead of replaying the journal.
    expect(second.projections.offsetsAtStart).toEqual(first.projections.offsets)
    expect(second.projections.offsets['orders-by-status']).toBe(second.events.inJournal)
    expect(second.events.inJournal).toBe(first.events.inJournal + second.events.persisted)
    // No event applied twice: the read models match the journal exactly.
    const totals = await journalTotals(file)
    expect(totals.streamsWithGaps).toBe(0)
    expect(sumOf(second, 'captured')).toBe(totals.captured)
    expect(sumOf(second, 'refunded')).toBe(totals.refunded)
    expect(sumOf(second, 'refunded')).toBeGreaterThan(sumOf(first, 'refunded'))
    const counts = second.projections.ordersByStatus
    expect(ORDER_STATUSES.reduce((s, status) => s + counts[status], 0)).toBe(totals.orders)
    expect(totals.orders).toBe(250)
    expect(counts.awaitingPayment).toBe(second.schedules.pendingAtExit)
    expect(counts.cancelled).toBeGreaterThan(first.projections.ordersByStatus.cancelled)
  })

  it('leaves a journal the statesource tooling reads: charts and every stream check out', async () => {
    const lines: string[] = []
    const code = await runCli(['check', '--aggregates', 'src/aggregates.ts', file], {
      out: (line) => lines.push(line),
      err: (line) => lines.push(line),
      cwd: packageDir,
    })
    expect(lines.slice(0, 3)).toEqual(['order: chart ok', 'payment: chart ok', 'shipment: chart ok'])
    expect(lines[3]).toMatch(
      new RegExp(
        `^journal audit: \\d+ streams, ${second.events.inJournal} events, 0 broken; snapshots: [1-9]\\d* checked, 0 of another version, 0 unusable$`,
      ),
    )
    expect(code).toBe(0)
  })

  it('starts over with reset', async () => {
    const fresh = await runDemo({
      dbPath: file,
      orders: 20,
      concurrency: 5,
      paymentWindowMs: WINDOW,
      reset: true,
      quiet: true,
    })
    expect(fresh.run).toBe(1)
    expect(fresh.orders.first).toBe(1)
    expect(fresh.returns.sent).toBe(0)
    expect(fresh.schedules.firedAtStartup).toBe(0)
    expect(fresh.projections.offsetsAtStart).toEqual({ 'orders-by-status': 0, 'revenue-per-day': 0 })
    expect(fresh.events.inJournal).toBe(fresh.events.persisted)
    expect((await journalTotals(file)).orders).toBe(20)
  })

  it('refuses a bad option with a typed error before touching the database', async () => {
    await expect(runDemo({ dbPath: path.join(dir, 'never.db'), orders: 0 })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: 'runDemo: orders must be an integer of at least 1, got 0. Pass a whole number.',
    })
  })
})

describe('the order aggregate', () => {
  it('has nested states and ignores a payment expiry once paid', () => {
    const at = '2026-01-05T08:00:00.000Z'
    const [draft] = initialTransition(order.machine)
    expect(draft.value).toBe('draft')
    const [placed] = transition(order.machine, draft, {
      type: 'placed',
      customerId: 'c-1',
      lines: [{ sku: 'MUG-01', quantity: 1, unitPrice: 100 }],
      total: 100,
      at,
    })
    expect(placed.value).toEqual({ placed: 'awaitingPayment' })
    const [paid] = transition(order.machine, placed, {
      type: 'paymentConfirmed',
      paymentId: 'p-1',
      amount: 100,
      at,
    })
    expect(paid.value).toEqual({ placed: 'paid' })
    const context = { id: 'o-1', persistenceId: 'order|o-1', version: 2, metadata: {} }
    expect(order.commands.expirePayment({ at }, paid, context)).toEqual([])
    expect(order.commands.expirePayment({ at }, placed, context)).toEqual({
      type: 'cancelled',
      reason: 'payment not received in time',
      at,
    })
  })
})

describe('pnpm demo', () => {
  it('prints progress, the projections, the throughput and the viewer command', async () => {
    const main = fileURLToPath(new URL('../src/main.ts', import.meta.url))
    const db = path.join(dir, 'cli.db')
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', main, '--db', db, '--orders', '30'],
      {
        // tsx resolves from the package; INIT_CWD is where `pnpm demo` was typed, so paths print relative to it.
        cwd: packageDir,
        env: { ...process.env, INIT_CWD: dir },
      },
    )
    expect(stdout).toContain('Run 1: new database cli.db (placing orders 1-30)')
    expect(stdout).toMatch(/\] 100% {2}\d+\/\d+ commands/)
    expect(stdout).toMatch(/Sent [\d,]+ commands in [\d.]+ s: [\d,]+ commands\/s, [\d,]+ events\/s/)
    expect(stdout).toContain('Orders by status')
    expect(stdout).toContain('Revenue per day')
    expect(stdout).toContain('Audit log (last 5)')
    expect(stdout).toContain(
      `To browse this database:\n  pnpm --filter @statesource/demo exec statesource view ${db} --aggregates src/aggregates.ts`,
    )
  })

  it('takes its flags after the `--` that `pnpm demo -- --help` passes on', async () => {
    const main = fileURLToPath(new URL('../src/main.ts', import.meta.url))
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', main, '--', '--help'],
      {
        cwd: packageDir,
      },
    )
    expect(stdout).toMatch(/^Usage: pnpm demo \[--db <path>\]/)
    expect(stdout).toContain('--reset                delete the database first and start over')
  })

  it('explains a bad flag and exits with status 2', async () => {
    const main = fileURLToPath(new URL('../src/main.ts', import.meta.url))
    const failure = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', main, '--orders', 'many'],
      {
        cwd: packageDir,
      },
    ).catch((error: { code: number; stderr: string }) => error)
    expect(failure).toMatchObject({ code: 2 })
    expect((failure as { stderr: string }).stderr).toContain(
      '--orders must be a whole number of at least 1, got "many".',
    )
  })
})
