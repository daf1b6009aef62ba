import { randomUUID } from 'node:crypto'
import type { AnyAggregate, CommandFrom } from '../aggregate/define-aggregate.ts'
import { isStatesourceError, NotConfiguredError, StatesourceError } from '../errors.ts'
import { toJson } from '../internal/json.ts'
import { consoleLogger, type Logger } from '../logger.ts'
import type { EventMetadata } from '../persistence/envelope.ts'
import type { Repository } from '../repository/repository.ts'
import type { CqrsHandles } from '../topology/cqrs-handles.ts'
import {
  armTimer,
  assertScheduleInput,
  reportScheduleFailure,
  resolveDueAt,
  type ScheduledCommandInfo,
  type ScheduleOutcome,
  type ScheduleWhen,
} from './schedule-command.ts'
import type { ScheduleStore, StoredSchedule } from './schedule-store.ts'

/**
 * What {@link createDurableScheduler} needs: a store, and the repositories it may send to (given one by
 * one, or all of a materialized instance through `handles`).
 *
 * @example
 * ```ts
 * const config: DurableSchedulerConfig = { store: createInMemoryScheduleStore(), handles }
 * ```
 */
export interface DurableSchedulerConfig {
  readonly store: ScheduleStore
  /** Every registered aggregate's repository; the scheduler also stops when the handles stop. */
  readonly handles?: CqrsHandles
  /** Repositories to send to, by their aggregate type (in addition to those of `handles`). */
  readonly repositories?: readonly Repository<any>[]
  /** Where failures are reported, at warn level. Default: the handles' logger, else the console. */
  readonly logger?: Logger
  /** Called when a scheduled command fails (after the logger). */
  readonly onError?: (error: Error, info: ScheduledCommandInfo) => void
  /** Let the process exit while commands are pending (they re-arm at the next start). Default false. */
  readonly unref?: boolean
}

/**
 * Per-call options of {@link DurableScheduler.schedule}.
 *
 * @example
 * ```ts
 * await scheduler.schedule(accounts, 'acc-1', { type: 'close' }, { delay: 60_000 }, { scheduleId: 'close-acc-1' })
 * ```
 */
export interface DurableScheduleOptions {
  /** Unique id of the schedule, also the command id of the send. Default: `scheduled:<uuid>`. */
  readonly scheduleId?: string
  /** Stored with the command's events (the scheduler adds `scheduleId`). */
  readonly metadata?: EventMetadata
}

/**
 * A handle on a durable scheduled command armed in this process.
 *
 * @example
 * ```ts
 * const handle = await scheduler.schedule(accounts, 'acc-1', { type: 'close' }, { delay: 60_000 })
 * await handle.cancel() // true: it was still pending, and is now marked cancelled in the store
 * ```
 */
export interface DurableScheduledCommand {
  readonly id: string
  readonly dueAt: number
  /** Cancels it, in memory and in the store; true when it was still pending. */
  cancel(): Promise<boolean>
  /**
   * Resolves with how it ended in this process; never rejects. Stays unresolved when the scheduler stops
   * before the command is due (it is still pending in the store and re-arms at the next start).
   */
  readonly done: Promise<ScheduleOutcome>
}

/**
 * What {@link DurableScheduler.start} found in the store.
 *
 * @example
 * ```ts
 * const { rearmed, fired } = await scheduler.start()
 * ```
 */
export interface DurableSchedulerStart {
  /** Pending schedules due later, armed again. */
  readonly rearmed: number
  /** Overdue schedules fired during start-up (sent or failed). */
  readonly fired: number
}

/**
 * Scheduled commands that survive a restart: each one is stored before it is armed, and settled (fired,
 * cancelled, failed) in the store. Create it with {@link createDurableScheduler}.
 *
 * @example
 * ```ts
 * const scheduler = createDurableScheduler({ store, handles })
 * await scheduler.start() // re-arms what a previous process left, fires what is overdue
 * await scheduler.schedule(accounts, 'acc-1', { type: 'close' }, { at: Date.now() + 86_400_000 })
 * ```
 */
export interface DurableScheduler {
  /** Loads pending schedules: fires the overdue ones (and waits for them), arms the rest. Idempotent. */
  start(): Promise<DurableSchedulerStart>
  /** Stores a command and arms it. Rejects with `INVALID_INPUT` for bad input or a reused schedule id. */
  schedule<A extends AnyAggregate>(
    repository: Repository<A>,
    id: string,
    command: CommandFrom<A>,
    when: ScheduleWhen,
    options?: DurableScheduleOptions,
  ): Promise<DurableScheduledCommand>
  /** Cancels a schedule by id (armed here or not); true when it was still pending. */
  cancel(scheduleId: string): Promise<boolean>
  /** The handle of a schedule armed in this process. */
  handle(scheduleId: string): DurableScheduledCommand | undefined
  /** Pending schedules in the store, earliest first. */
  pending(): Promise<StoredSchedule[]>
  /** Disarms every timer (pending schedules stay in the store) and waits for sends in flight. */
  stop(): Promise<void>
}

interface Armed {
  readonly entry: StoredSchedule
  readonly handle: DurableScheduledCommand
  readonly resolve: (outcome: ScheduleOutcome) => void
  disarm: () => void
  state: 'armed' | 'firing' | 'settled'
}

/**
 * Creates a {@link DurableScheduler}. Each scheduled command is sent with its schedule id as command id,
 * so a fire repeated after a crash between the send and the store update returns the first result
 * instead of writing twice.
 *
 * @remarks Exactly-once relies on the gateway's idempotency window (`dedupeWindow`, default 100 command ids
 * per aggregate): a repeat is recognised while the aggregate has handled fewer than that many commands
 * with ids since. Several schedulers (processes) may share one store: when two fire the same schedule, the
 * one whose copy of the aggregate was behind meets a conflict, retries with the same command id and gets the
 * first result (`sent`, `duplicate: true`); the command runs once. A conflict or an unknown outcome is
 * retried up to 3 times in all. A command that fails with a rejection is marked `failed`; one that meets a
 * stopped gateway or a timeout stays pending and fires again at the next start (safe, thanks to the command id).
 *
 * @example
 * ```ts
 * const scheduler = createDurableScheduler({ store: createSqliteScheduleStore(db), handles })
 * await scheduler.start()
 * const handle = await scheduler.schedule(accounts, 'acc-1', { type: 'close' }, { delay: 3_600_000 })
 * ```
 */
/** Attempts of a scheduled send that meets a conflict or an unknown outcome (see `sendOnce`). */
const SEND_ATTEMPTS = 3

export function createDurableScheduler(config: DurableSchedulerConfig): DurableScheduler {
  const store = config.store
  if (!store || typeof store.add !== 'function' || typeof store.settle !== 'function') {
    throw new NotConfiguredError(
      'store',
      'createDurableScheduler needs a store: createInMemoryScheduleStore() or a SQL one.',
    )
  }
  const logger = config.logger ?? config.handles?.settings.logger ?? consoleLogger
  const repositories = new Map<string, Repository<any>>()
  if (config.handles) {
    for (const aggregate of config.handles.settings.aggregates) {
      repositories.set(aggregate.type, config.handles.repository(aggregate))
    }
  }
  for (const repository of config.repositories ?? []) repositories.set(repository.aggregate.type, repository)
  const armed = new Map<string, Armed>()
  const inFlight = new Set<Promise<void>>()
  let starting: Promise<DurableSchedulerStart> | undefined
  let stopped = false

  const infoOf = (entry: StoredSchedule): ScheduledCommandInfo => ({
    id: entry.id,
    aggregateType: entry.aggregateType,
    aggregateId: entry.aggregateId,
    command: entry.command,
    dueAt: entry.dueAt,
  })

  const fire = async (item: Armed): Promise<void> => {
    if (item.state !== 'armed') return
    item.state = 'firing'
    const { entry } = item
    const repository = repositories.get(entry.aggregateType)
    const finish = (outcome: ScheduleOutcome) => {
      item.state = 'settled'
      armed.delete(entry.id)
      item.resolve(outcome)
    }
    if (!repository) {
      const error = new NotConfiguredError(
        'repository',
        `The durable scheduler has no repository for aggregate "${entry.aggregateType}" (schedule "${entry.id}"). Pass it in repositories, or pass handles.`,
      )
      await settleQuietly(entry, 'failed', error.message)
      reportScheduleFailure(error, infoOf(entry), logger, config.onError)
      return finish({ status: 'failed', error })
    }
    try {
      const result = await sendOnce(repository, entry)
      await settleQuietly(entry, 'fired')
      finish({ status: 'sent', result })
    } catch (cause) {
      const error = cause instanceof Error ? cause : new Error(String(cause))
      if (isStatesourceError(error, 'GATEWAY_STOPPED') || isStatesourceError(error, 'TIMEOUT')) {
        // Its outcome is unknown or it never ran: keep it pending, the next start fires it again (same command id).
        reportScheduleFailure(
          error,
          infoOf(entry),
          logger,
          config.onError,
          '; it stays pending and fires again at the next start',
        )
        return finish({ status: 'failed', error })
      }
      await settleQuietly(entry, 'failed', error.message)
      reportScheduleFailure(error, infoOf(entry), logger, config.onError)
      finish({ status: 'failed', error })
    }
  }

  /**
   * Sends the scheduled command under its schedule id as command id. A conflict means this gateway's copy of
   * the aggregate was behind the journal (another process wrote meanwhile: possibly another scheduler firing
   * this very schedule), and an unknown outcome may hide a commit: both are retried with the same command id,
   * which the gateway, recovering afresh, answers with the first result when the command ran already.
   */
  const sendOnce = async (repository: Repository<any>, entry: StoredSchedule) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await repository.send(entry.aggregateId, entry.command as never, {
          commandId: entry.commandId,
          metadata: { ...entry.metadata, scheduleId: entry.id },
        })
      } catch (error) {
        const retryable =
          isStatesourceError(error, 'CONCURRENCY_CONFLICT') ||
          isStatesourceError(error, 'JOURNAL_OUTCOME_UNKNOWN')
        if (!retryable || attempt >= SEND_ATTEMPTS) throw error
      }
    }
  }

  const settleQuietly = async (entry: StoredSchedule, status: 'fired' | 'failed', error?: string) => {
    try {
      await store.settle(entry.id, { status, at: Date.now(), ...(error !== undefined ? { error } : {}) })
    } catch (storeError) {
      logger.warn(
        `Schedule "${entry.id}" could not be marked ${status}: ${(storeError as Error)?.message ?? storeError}. It stays pending and fires again at the next start; its command id makes that harmless.`,
        { scheduleId: entry.id, error: storeError },
      )
    }
  }

  const track = (item: Armed) => {
    const running = fire(item)
    inFlight.add(running)
    void running.finally(() => inFlight.delete(running))
    return running
  }

  const arm = (entry: StoredSchedule): Armed => {
    let resolve!: (outcome: ScheduleOutcome) => void
    const done = new Promise<ScheduleOutcome>((r) => (resolve = r))
    const item: Armed = {
      entry,
      resolve,
      disarm: () => {},
      state: 'armed',
      handle: {
        id: entry.id,
        dueAt: entry.dueAt,
        cancel: () => scheduler.cancel(entry.id),
        done,
      },
    }
    armed.set(entry.id, item)
    return item
  }

  const scheduler: DurableScheduler = {
    start() {
      starting ??= (async () => {
        stopped = false
        const pending = await store.pending()
        const now = Date.now()
        const overdue: Armed[] = []
        let rearmed = 0
        for (const entry of pending) {
          if (armed.has(entry.id)) continue
          const item = arm(entry)
          if (entry.dueAt <= now) overdue.push(item)
          else {
            item.disarm = armTimer(entry.dueAt, () => void track(item), config.unref ?? false)
            rearmed++
          }
        }
        // Overdue ones fire now, in due order, one at a time (their order may matter to the aggregate).
        for (const item of overdue) await track(item)
        return { rearmed, fired: overdue.length }
      })()
      return starting
    },

    async schedule(repository, id, command, when, options = {}) {
      if (stopped) {
        throw new StatesourceError(
          'GATEWAY_STOPPED',
          'The durable scheduler is stopped and takes no new schedules. Create a new one.',
        )
      }
      assertScheduleInput('schedule()', repository, id, command)
      const type = (command as { type: string }).type
      const scheduleId = options.scheduleId ?? `scheduled:${randomUUID()}`
      if (typeof scheduleId !== 'string' || scheduleId.length === 0) {
        throw new StatesourceError(
          'INVALID_INPUT',
          `scheduleId must be a non-empty string, got ${JSON.stringify(scheduleId)}.`,
        )
      }
      const now = Date.now()
      const dueAt = resolveDueAt(when, now)
      // Stored as JSON: refuse what JSON would silently mangle, before anything is stored.
      const stored = JSON.parse(toJson(command, `Scheduled command "${type}"`)) as StoredSchedule['command']
      const metadata = JSON.parse(
        toJson(options.metadata ?? {}, `The metadata of scheduled command "${type}"`),
      )
      const known = repositories.get(repository.aggregate.type)
      if (known && known !== repository && known.aggregate !== repository.aggregate) {
        throw new StatesourceError(
          'INVALID_INPUT',
          `Another aggregate definition is registered under type "${repository.aggregate.type}"; a durable schedule is re-armed by type, so types must be unique.`,
        )
      }
      if (!known) repositories.set(repository.aggregate.type, repository)
      const entry: StoredSchedule = {
        id: scheduleId,
        aggregateType: repository.aggregate.type,
        aggregateId: id,
        command: stored,
        dueAt,
        commandId: scheduleId,
        metadata,
        createdAt: now,
        status: 'pending',
      }
      await store.add(entry)
      const item = arm(entry)
      item.disarm = armTimer(dueAt, () => void track(item), config.unref ?? false)
      return item.handle
    },

    async cancel(scheduleId) {
      const item = armed.get(scheduleId)
      if (item) {
        if (item.state !== 'armed') return false // already in flight: too late to cancel
        item.disarm()
        item.state = 'settled'
        armed.delete(scheduleId)
        item.resolve({ status: 'cancelled' })
      }
      return store.settle(scheduleId, { status: 'cancelled', at: Date.now() })
    },

    handle(scheduleId) {
      return armed.get(scheduleId)?.handle
    },

    pending() {
      return store.pending()
    },

    async stop() {
      stopped = true
      for (const item of armed.values()) {
        if (item.state === 'armed') item.disarm()
      }
      while (inFlight.size > 0) await Promise.allSettled([...inFlight])
      // Still pending in the store: a later start (this process or the next) re-arms them.
      armed.clear()
      starting = undefined
    },
  }
  config.handles?.onStop(() => scheduler.stop())
  return scheduler
}
