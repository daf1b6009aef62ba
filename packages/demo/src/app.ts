import path from 'node:path'
import {
  AuditLog,
  type AuditProjection,
  type CommandRejectedError,
  type CqrsHandles,
  CqrsPattern,
  type CqrsTopology,
  consoleLogger,
  createDurableScheduler,
  type DurableScheduler,
  type EventEnvelope,
  isStatesourceError,
  type Repository,
  StatesourceError,
  silentLogger,
} from '@statesource/core'
import { type Observable, Subject, scan } from 'rxjs'
import { type AnyActorRef, createActor, setup, spawnChild } from 'xstate'
import { order, payment, shipment } from './aggregates.ts'
import { authorization } from './authorization.ts'
import { commandValidators } from './command-schemas.ts'
import { createProgress, formatCount, formatMoney, type Output, type Progress } from './progress.ts'
import { type DailyRevenue, ORDER_STATUSES, type OrdersByStatus, type RevenuePerDay } from './read-models.ts'
import { openShopDatabase, type ShopDatabase } from './shop-database.ts'
import { orderId, orderNumber, placedAt, returnStepsOf, type Step, stepsOf } from './workload.ts'

/**
 * Options of {@link runDemo}. Only `dbPath` is required.
 *
 * @example
 * ```ts
 * const options: DemoOptions = { dbPath: 'statesource-demo.db', orders: 2_000, concurrency: 100 }
 * ```
 */
export interface DemoOptions {
  /** The SQLite file holding the journal, the read models, the offsets and the schedules. */
  readonly dbPath: string
  /**
   * A PostgreSQL URL: run on that database instead of the SQLite file, in the schema `postgresSchema`
   * (default `statesource_demo`); a later run continues from it like from the file.
   */
  readonly postgresUrl?: string
  /** The PostgreSQL schema of the demo. Default `statesource_demo`. */
  readonly postgresSchema?: string
  /** New orders this run places. Default 2,000 (about 25,000 commands). */
  readonly orders?: number
  /** Orders in flight at once; each order's commands are sent one after the other. Default 100. */
  readonly concurrency?: number
  /** Real time after which an unpaid order is cancelled by its scheduled command. Default 2,000 ms. */
  readonly paymentWindowMs?: number
  /** Delete the database (and its WAL files) first, starting over. Default false. */
  readonly reset?: boolean
  /** Print nothing. Default false. */
  readonly quiet?: boolean
  /** Where to print. Default `process.stdout`. */
  readonly output?: Output
  /** The directory a relative `dbPath` is resolved against. Default `process.cwd()`. */
  readonly cwd?: string
}

/**
 * What one run of the demo did, returned by {@link runDemo}.
 *
 * @example
 * ```ts
 * const summary: DemoSummary = await runDemo({ dbPath: 'shop.db', quiet: true })
 * console.log(summary.run, summary.commands.sent, summary.throughput.commandsPerSecond)
 * ```
 */
export interface DemoSummary {
  readonly dbPath: string
  /** Where the run wrote: the SQLite file's name, or the PostgreSQL schema and database. */
  readonly database: string
  /** 1 for a fresh database, then 2, 3, ... */
  readonly run: number
  /** The first and last order number of this run, and how many orders it placed. */
  readonly orders: { readonly first: number; readonly last: number; readonly count: number }
  readonly commands: {
    readonly sent: number
    readonly accepted: number
    /** Refused on purpose (malformed or unauthorized commands), with one reason of each kind. */
    readonly rejected: number
    readonly rejectionExamples: { readonly validation?: string; readonly authorization?: string }
    /** Commands that failed although the shop expected them to succeed (0 in a healthy run). */
    readonly unexpected: readonly string[]
  }
  readonly events: {
    /** Events this run persisted. */
    readonly persisted: number
    /** Events the metrics tap delivered to the RxJS pipeline. */
    readonly tapped: number
    /** Events in the journal after this run (all runs together). */
    readonly inJournal: number
  }
  readonly throughput: {
    readonly seconds: number
    readonly commandsPerSecond: number
    readonly eventsPerSecond: number
  }
  readonly schedules: {
    /** Payment expiries scheduled by this run. */
    readonly scheduled: number
    /** Cancelled because the order was paid in time. */
    readonly cancelled: number
    /** Overdue expiries left by an earlier run, fired when this run started. */
    readonly firedAtStartup: number
    /** Expiries left by an earlier run that were not due yet, armed again at start-up. */
    readonly rearmedAtStartup: number
    /** Orders this run cancelled through a fired expiry (at start-up or later). */
    readonly expiredOrders: number
    /** Expiries still pending when this run stopped: the next run fires them. */
    readonly pendingAtExit: number
    /** When the last pending expiry is due (epoch ms), or 0. */
    readonly lastDueAt: number
  }
  /** Returns of orders an earlier run delivered: refunds sent to recovered payment aggregates. */
  readonly returns: { readonly sent: number; readonly refunded: number }
  readonly projections: {
    readonly ordersByStatus: OrdersByStatus
    readonly revenuePerDay: readonly DailyRevenue[]
    /** The newest audit entries, oldest first. */
    readonly audit: readonly AuditLine[]
    /** Each durable projection's offset when this run started and when it ended. */
    readonly offsetsAtStart: Readonly<Record<string, number>>
    readonly offsets: Readonly<Record<string, number>>
  }
  /** Customer notifications the listener queued (shipped, delivered, cancelled). */
  readonly notifications: number
  /** True when the gateway ran as a child of the shop application's own actor system. */
  readonly gatewayInAppSystem: boolean
  /** The command that opens this database in the lifecycle viewer. */
  readonly viewerCommand: string
}

/**
 * One audit entry as the demo prints it.
 *
 * @example
 * ```ts
 * const line: AuditLine = { ordering: 12, persistenceId: 'order|o-000001', seqNr: 3, type: 'packingStarted', role: 'warehouse' }
 * ```
 */
export interface AuditLine {
  readonly ordering: number
  readonly persistenceId: string
  readonly seqNr: number
  readonly type: string
  readonly role: string
}

/** The system id of the gateway inside the shop application's actor system. */
export const GATEWAY_SYSTEM_ID = 'shop'
const DURABLE_PROJECTIONS = ['orders-by-status', 'revenue-per-day'] as const

/**
 * Builds the shop's CQRS topology on an opened database: three aggregates, validation and authorization
 * interceptors, a notification listener, a metrics tap, and the projections.
 *
 * @example
 * ```ts
 * const shop = buildShop(await openShopDatabase({ dbPath: 'shop.db' }), { quiet: true })
 * ```
 */
export function buildShop(database: ShopDatabase, options: { readonly quiet?: boolean } = {}) {
  const notifications = { queued: 0, last: '' }
  const expired = new Set<string>()
  const tapped = new Subject<EventEnvelope>()
  const builder = CqrsPattern.builder({ journal: database.journal, name: GATEWAY_SYSTEM_ID })
    .withAggregate(order)
    .withAggregate(payment)
    .withAggregate(shipment)
    .readJournal(database.readJournal({ pollIntervalMs: 250 }))
    .offsetStore(database.offsetStore)
    .snapshotStore(database.snapshotStore)
    .snapshotPolicy({ every: 5 })
    .logger(options.quiet ? silentLogger : consoleLogger)
  for (const validator of commandValidators) builder.onCommand(validator)
  builder
    .onCommand(authorization)
    .onEvent({
      name: 'notify-customer',
      aggregates: ['order'],
      // A real shop would put an e-mail on an outbox here; listeners run after commit, before the reply.
      onEvent: (event, envelope) => {
        if (event.type === 'shipped' || event.type === 'delivered' || event.type === 'cancelled') {
          notifications.queued++
          notifications.last = `${envelope.persistenceId}: your order was ${event.type}`
        }
        if (event.type === 'cancelled' && envelope.metadata.scheduleId !== undefined) {
          expired.add(envelope.persistenceId)
        }
      },
    })
    .withTap({ name: 'metrics', events: tapped, bufferSize: 100_000 })
  const ordersByStatus = builder.withReader(database.ordersByStatus)
  const revenuePerDay = builder.withReader(database.revenuePerDay)
  const audit = builder.withReader(new AuditLog({ capacity: 100 }))
  const topology = builder.build()
  return { topology, ordersByStatus, revenuePerDay, audit, notifications, expired, tapped }
}

/**
 * The shop application's root actor: the gateway is spawned inside it, under system id `shop`, so
 * aggregates live in the application's own XState system (and show up in its inspection).
 *
 * @example
 * ```ts
 * const app = createActor(shopApplication(topology)).start()
 * const gateway = app.system.get('shop')
 * ```
 */
export function shopApplication(topology: CqrsTopology) {
  return setup({ actors: { gateway: topology.gateway } }).createMachine({
    id: 'shop-application',
    entry: spawnChild('gateway', { systemId: GATEWAY_SYSTEM_ID, id: GATEWAY_SYSTEM_ID }),
  })
}

/**
 * Runs the order-fulfilment demo once on `options.dbPath`, continuing from whatever an earlier run left in
 * that database (aggregates, projection offsets, pending schedules), and returns what it did.
 *
 * @example
 * ```ts
 * const first = await runDemo({ dbPath: 'shop.db', orders: 200, quiet: true })
 * const second = await runDemo({ dbPath: 'shop.db', orders: 200, quiet: true })
 * console.log(second.run, second.orders.first) // 2 201
 * ```
 */
export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const orderCount = positive(options.orders ?? 2_000, 'orders')
  const concurrency = positive(options.concurrency ?? 100, 'concurrency')
  const paymentWindowMs = positive(options.paymentWindowMs ?? 2_000, 'paymentWindowMs')
  const out = options.output ?? process.stdout
  const say = (line = '') => {
    if (!options.quiet) out.write(`${line}\n`)
  }
  const dbPath = path.resolve(options.cwd ?? process.cwd(), options.dbPath)
  const database = await openShopDatabase({
    dbPath,
    postgresUrl: options.postgresUrl,
    postgresSchema: options.postgresSchema,
    reset: options.reset,
  })
  let app: AnyActorRef | undefined
  let handles: CqrsHandles | undefined
  let scheduler: DurableScheduler | undefined
  let shop: ReturnType<typeof buildShop> | undefined
  try {
    shop = buildShop(database, { quiet: options.quiet ?? false })
    // Order numbers continue after the last run's range, even if that run stopped half-way.
    const { run, first, last, previous } = await database.startRun(orderCount)
    const offsetsAtStart: Record<string, number> = {}
    for (const name of DURABLE_PROJECTIONS)
      offsetsAtStart[name] = (await database.offsetStore.load(name)) ?? 0

    say(
      previous
        ? `Run ${run}: continuing ${database.label} (orders 1-${formatCount(previous.last)} exist; placing ${formatCount(first)}-${formatCount(last)})`
        : `Run ${run}: new database ${database.label} (placing orders ${formatCount(first)}-${formatCount(last)})`,
    )

    // The application's own actor system, with the gateway spawned inside it.
    app = createActor(shopApplication(shop.topology)).start()
    const gateway = app.system.get(GATEWAY_SYSTEM_ID) as AnyActorRef
    handles = await shop.topology.materialize({ gateway })
    const repositories = {
      order: handles.repository(order),
      payment: handles.repository(payment),
      shipment: handles.repository(shipment),
    }
    // The metrics tap, bridged to RxJS: a running count of the events it saw, for the progress bar (as an
    // average since the start, like the command rate next to it) and for the check at the end.
    let tapped = 0
    const count$: Observable<number> = shop.tapped.pipe(scan((n) => n + 1, 0))
    const subscriptions = [count$.subscribe((n) => (tapped = n))]

    const persistedBefore = handles.stats.persistedEvents
    scheduler = createDurableScheduler({ store: database.scheduleStore, handles })
    const startup = await scheduler.start()
    if (startup.fired + startup.rearmed > 0) {
      say(
        `Scheduler: ${startup.fired} overdue payment expiries from the last run fired at start-up, ${startup.rearmed} re-armed`,
      )
    }

    // Work: returns of orders the previous run delivered (their payments are recovered from the journal),
    // then the new orders.
    const flows: Step[][] = []
    if (previous) {
      const delivered = await database.deliveredOrders(orderId(previous.first), orderId(previous.last))
      const returnAt = new Date(placedAt(first)).toISOString()
      for (const order_id of delivered) {
        const n = orderNumber(order_id)
        if (n % 50 === 7) flows.push(returnStepsOf(n, returnAt))
      }
    }
    const returnFlows = flows.length
    for (let n = first; n <= last; n++) flows.push(stepsOf(n))
    const total = flows.reduce((sum, steps) => sum + steps.filter((s) => s.kind === 'send').length, 0)

    const counters = { sent: 0, accepted: 0, rejected: 0, scheduled: 0, cancelled: 0, returned: 0 }
    const examples: { validation?: string; authorization?: string } = {}
    const unexpected: string[] = []
    const startedAt = performance.now()
    const progress: Progress | undefined = options.quiet
      ? undefined
      : createProgress(out, () => {
          const seconds = (performance.now() - startedAt) / 1_000
          return {
            done: counters.sent,
            total,
            commandsPerSecond: seconds > 0 ? counters.sent / seconds : 0,
            eventsPerSecond: seconds > 0 ? tapped / seconds : 0,
          }
        })

    const runStep = async (step: Step, returnFlow: boolean) => {
      if (step.kind === 'schedulePaymentExpiry') {
        await scheduler!.schedule(
          repositories.order,
          step.orderId,
          { type: 'expirePayment', at: step.at },
          { delay: paymentWindowMs },
          { scheduleId: expiryId(step.orderId), metadata: { role: 'scheduler' } },
        )
        counters.scheduled++
        return true
      }
      if (step.kind === 'cancelPaymentExpiry') {
        if (await scheduler!.cancel(expiryId(step.orderId))) counters.cancelled++
        return true
      }
      const repository = repositories[step.aggregate] as Repository<typeof order>
      counters.sent++
      try {
        await repository.send(step.id, step.command as never, {
          metadata: { role: step.role, ...(step.userId ? { userId: step.userId } : {}) },
          ...(step.commandId ? { commandId: step.commandId } : {}),
        })
        counters.accepted++
        if (returnFlow) counters.returned++
        if (step.expectRejection)
          unexpected.push(`${step.aggregate}|${step.id} ${step.command.type}: accepted, expected a rejection`)
        return true
      } catch (error) {
        if (step.expectRejection && isStatesourceError(error, 'COMMAND_REJECTED')) {
          counters.rejected++
          examples[step.expectRejection] ??= (error as CommandRejectedError).message
          return true
        }
        unexpected.push(`${step.aggregate}|${step.id} ${step.command.type}: ${(error as Error).message}`)
        return false
      }
    }
    let next = 0
    const worker = async () => {
      while (next < flows.length) {
        const index = next++
        for (const step of flows[index]!) {
          if (!(await runStep(step, index < returnFlows))) break
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(concurrency, flows.length) }, worker))
    const seconds = (performance.now() - startedAt) / 1_000
    progress?.finish()

    // Read your writes: every projection reflects the journal up to its head before anything is printed.
    const head = await database.journal.highestOrdering()
    await Promise.all([
      shop.ordersByStatus.waitForOffset(head, { timeout: 30_000 }),
      shop.revenuePerDay.waitForOffset(head, { timeout: 30_000 }),
      shop.audit.waitForOffset(head, { timeout: 30_000 }),
    ])
    const persisted = handles.stats.persistedEvents - persistedBefore
    await waitFor(() => tapped >= persisted, 10_000)
    for (const s of subscriptions) s.unsubscribe()

    const pending = await scheduler.pending()
    const expiries = pending.filter((s) => s.id.startsWith('expire-payment:'))
    const summary: DemoSummary = {
      dbPath,
      database: database.label,
      run,
      orders: { first, last, count: orderCount },
      commands: {
        sent: counters.sent,
        accepted: counters.accepted,
        rejected: counters.rejected,
        rejectionExamples: examples,
        unexpected,
      },
      events: { persisted, tapped, inJournal: head },
      throughput: {
        seconds,
        commandsPerSecond: counters.sent / seconds,
        eventsPerSecond: persisted / seconds,
      },
      schedules: {
        scheduled: counters.scheduled,
        cancelled: counters.cancelled,
        firedAtStartup: startup.fired,
        rearmedAtStartup: startup.rearmed,
        expiredOrders: shop.expired.size,
        pendingAtExit: expiries.length,
        lastDueAt: expiries.reduce((max, s) => Math.max(max, s.dueAt), 0),
      },
      returns: { sent: returnFlows, refunded: counters.returned },
      projections: {
        ordersByStatus: shop.ordersByStatus.state,
        revenuePerDay: Object.values(shop.revenuePerDay.state as RevenuePerDay).sort((a, b) =>
          a.day.localeCompare(b.day),
        ),
        audit: auditLines(shop.audit.state, 5),
        offsetsAtStart,
        offsets: {
          'orders-by-status': shop.ordersByStatus.offset,
          'revenue-per-day': shop.revenuePerDay.offset,
        },
      },
      notifications: shop.notifications.queued,
      gatewayInAppSystem: app.system.get(GATEWAY_SYSTEM_ID) === handles.gateway,
      viewerCommand: options.postgresUrl
        ? 'The lifecycle viewer reads SQLite files; run the demo without --postgres to try it.'
        : viewerCommand(dbPath),
    }
    if (!options.quiet) printSummary(say, summary, shop.notifications.last)
    return summary
  } finally {
    await scheduler?.stop()
    await handles?.stop()
    app?.stop()
    shop?.tapped.complete()
    await database.close()
  }
}

/** The schedule id of an order's payment expiry: one per order, so scheduling twice is refused. */
function expiryId(orderId: string): string {
  return `expire-payment:${orderId}`
}

function auditLines(audit: AuditProjection, n: number): AuditLine[] {
  return audit.recent(n).map((entry) => ({
    ordering: entry.ordering,
    persistenceId: entry.persistenceId,
    seqNr: entry.seqNr,
    type: entry.type,
    role: String(entry.metadata.role ?? '-'),
  }))
}

/**
 * The command that opens a database in the lifecycle viewer (`statesource view`, from @statesource/inspect),
 * with this package's aggregates so the viewer draws their charts. It works from anywhere in the workspace.
 *
 * @example
 * ```ts
 * viewerCommand('/work/shop.db')
 * // 'pnpm --filter @statesource/demo exec statesource view /work/shop.db --aggregates src/aggregates.ts'
 * ```
 */
export function viewerCommand(dbPath: string): string {
  // `exec` runs in packages/demo, where the statesource bin is linked: the module path is relative to it.
  return `pnpm --filter @statesource/demo exec statesource view ${shellQuote(path.resolve(dbPath))} --aggregates src/aggregates.ts`
}

function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`
}

function printSummary(say: (line?: string) => void, s: DemoSummary, lastNotification: string): void {
  const pad = (text: string, width: number) => text.padEnd(width)
  const num = (n: number, width = 8) => formatCount(n).padStart(width)
  say()
  say(
    `Sent ${formatCount(s.commands.sent)} commands in ${s.throughput.seconds.toFixed(2)} s: ${formatCount(s.throughput.commandsPerSecond)} commands/s, ${formatCount(s.throughput.eventsPerSecond)} events/s (${formatCount(s.events.persisted)} events persisted, ${formatCount(s.events.tapped)} seen by the RxJS tap)`,
  )
  say(`Rejected on purpose: ${formatCount(s.commands.rejected)}`)
  if (s.commands.rejectionExamples.validation)
    say(`  schema:        ${s.commands.rejectionExamples.validation}`)
  if (s.commands.rejectionExamples.authorization)
    say(`  authorization: ${s.commands.rejectionExamples.authorization}`)
  if (s.commands.unexpected.length > 0) {
    say(`Unexpected failures: ${s.commands.unexpected.length}, e.g. ${s.commands.unexpected[0]}`)
  }
  if (s.returns.sent > 0) {
    say(
      `Returns of orders delivered in the last run: ${s.returns.refunded}/${s.returns.sent} refunded (payments recovered from the journal)`,
    )
  }
  say(
    `Payment expiries: ${formatCount(s.schedules.scheduled)} scheduled, ${formatCount(s.schedules.cancelled)} cancelled on payment, ${formatCount(s.schedules.expiredOrders)} orders cancelled unpaid${s.schedules.firedAtStartup > 0 ? ` (${s.schedules.firedAtStartup} at start-up)` : ''}, ${formatCount(s.schedules.pendingAtExit)} still pending (run again to see them fire)`,
  )
  say(
    `Notifications queued by the listener: ${formatCount(s.notifications)}${lastNotification ? ` (last: "${lastNotification}")` : ''}`,
  )
  say()
  say('Orders by status')
  for (const status of ORDER_STATUSES) say(`  ${pad(status, 16)}${num(s.projections.ordersByStatus[status])}`)
  say()
  say('Revenue per day              captured     refunded     payments')
  for (const day of s.projections.revenuePerDay) {
    say(
      `  ${pad(day.day, 20)}${formatMoney(day.captured).padStart(13)}${formatMoney(day.refunded).padStart(13)}${num(day.payments, 13)}`,
    )
  }
  say()
  say('Audit log (last 5)')
  for (const line of s.projections.audit) {
    say(
      `  #${line.ordering} ${pad(`${line.persistenceId}#${line.seqNr}`, 24)} ${pad(line.type, 18)} by ${line.role}`,
    )
  }
  say()
  say(
    `Projection offsets: ${DURABLE_PROJECTIONS.map((name) => `${name} ${formatCount(s.projections.offsetsAtStart[name] ?? 0)} → ${formatCount(s.projections.offsets[name] ?? 0)}`).join(', ')}`,
  )
  say(`Journal: ${formatCount(s.events.inJournal)} events in ${s.database}`)
  say()
  say('To browse this database:')
  say(`  ${s.viewerCommand}`)
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
}

function positive(value: number, what: string): number {
  if (!(Number.isInteger(value) && value >= 1)) {
    throw new StatesourceError(
      'INVALID_INPUT',
      `runDemo: ${what} must be an integer of at least 1, got ${value}. Pass a whole number.`,
    )
  }
  return value
}
