import { randomUUID } from 'node:crypto'
import type { AnyAggregate, CommandFrom } from '../aggregate/define-aggregate.ts'
import { StatesourceError } from '../errors.ts'
import type { SendOptions, SendResult } from '../gateway/messages.ts'
import { consoleLogger, type Logger } from '../logger.ts'
import type { Repository } from '../repository/repository.ts'

/**
 * When a scheduled command fires: after `delay` milliseconds, or at a moment (a `Date` or epoch
 * milliseconds). A moment in the past fires at once.
 *
 * @example
 * ```ts
 * const inAMinute: ScheduleWhen = { delay: 60_000 }
 * const atNoon: ScheduleWhen = { at: new Date('2030-01-01T12:00:00Z') }
 * ```
 */
export type ScheduleWhen = { readonly delay: number } | { readonly at: Date | number }

/**
 * How a scheduled command ended. `done` resolves with it and never rejects.
 *
 * @example
 * ```ts
 * const outcome = await handle.done
 * if (outcome.status === 'failed') console.error(outcome.error.message)
 * ```
 */
export type ScheduleOutcome =
  | { readonly status: 'sent'; readonly result: SendResult }
  | { readonly status: 'failed'; readonly error: Error }
  | { readonly status: 'cancelled' }

/**
 * What a failure callback learns about the scheduled command.
 *
 * @example
 * ```ts
 * const onError = (error: Error, info: ScheduledCommandInfo) => console.error(info.id, error.message)
 * ```
 */
export interface ScheduledCommandInfo {
  readonly id: string
  readonly aggregateType: string
  readonly aggregateId: string
  readonly command: { readonly type: string }
  readonly dueAt: number
}

/**
 * Options of {@link scheduleCommand}.
 *
 * @example
 * ```ts
 * const options: ScheduleCommandOptions = { commandId: 'close-acc-1', onError: (e) => alert(e.message) }
 * ```
 */
export interface ScheduleCommandOptions {
  /** Where a failure is reported, at warn level. Default: the console logger. */
  readonly logger?: Logger
  /** Called when the send fails (after the logger). Its own errors are logged and ignored. */
  readonly onError?: (error: Error, info: ScheduledCommandInfo) => void
  /** The command id of the send (idempotency key) and the handle's id. Default: `scheduled:<uuid>`. */
  readonly commandId?: string
  /** Other options of the send: metadata, timeout, expected version. */
  readonly send?: Omit<SendOptions, 'commandId' | 'signal'>
  /** Let the process exit while the command is pending (Node's `timer.unref()`). Default false. */
  readonly unref?: boolean
}

/**
 * A handle on a pending scheduled command.
 *
 * @example
 * ```ts
 * const handle = scheduleCommand(accounts, 'acc-1', { type: 'close' }, { delay: 60_000 })
 * handle.cancel() // true: it had not fired yet
 * await handle.done // { status: 'cancelled' }
 * ```
 */
export interface ScheduledCommand {
  /** The schedule's id, which is also the command id of the send. */
  readonly id: string
  /** Epoch milliseconds at which it fires. */
  readonly dueAt: number
  /** `pending` until the timer fires, `firing` while the command is in flight, then how it ended. */
  readonly status: 'pending' | 'firing' | 'sent' | 'failed' | 'cancelled'
  /** Cancels it if it has not fired yet; true when this call cancelled it. */
  cancel(): boolean
  /** Resolves with how it ended; never rejects. */
  readonly done: Promise<ScheduleOutcome>
}

/** setTimeout takes at most 2^31 - 1 ms; longer delays are chained, or they would fire at once. */
const MAX_TIMER_MS = 2_147_483_647

/** @internal Checks the arguments both schedulers take; throws `INVALID_INPUT` naming the caller. */
export function assertScheduleInput(
  caller: string,
  repository: unknown,
  id: unknown,
  command: unknown,
): void {
  if (!repository || typeof (repository as { send?: unknown }).send !== 'function') {
    throw new StatesourceError(
      'INVALID_INPUT',
      `${caller} needs a repository (handles.repository(aggregate)) as its first argument.`,
    )
  }
  if (typeof id !== 'string' || id.length === 0) {
    throw new StatesourceError(
      'INVALID_INPUT',
      `The aggregate id must be a non-empty string, got ${JSON.stringify(id)}.`,
    )
  }
  if (typeof (command as { type?: unknown } | undefined)?.type !== 'string') {
    throw new StatesourceError('INVALID_INPUT', 'A scheduled command must be an object with a string "type".')
  }
}

/**
 * @internal Calls `fire` at `dueAt` (epoch ms), chaining timers for delays beyond setTimeout's limit.
 * Returns a function that disarms it.
 */
export function armTimer(dueAt: number, fire: () => void, unref = false): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined
  let armed = true
  const tick = () => {
    if (!armed) return
    const remaining = dueAt - Date.now()
    if (remaining > 0) {
      timer = setTimeout(tick, Math.min(remaining, MAX_TIMER_MS))
      if (unref) timer.unref?.()
      return
    }
    armed = false
    fire()
  }
  const remaining = dueAt - Date.now()
  timer = setTimeout(tick, Math.max(0, Math.min(remaining, MAX_TIMER_MS)))
  if (unref) timer.unref?.()
  return () => {
    armed = false
    if (timer) clearTimeout(timer)
  }
}

/**
 * @internal Resolves `{ delay } | { at }` to an epoch-ms due time, or throws `INVALID_INPUT`.
 */
export function resolveDueAt(when: ScheduleWhen, now: number): number {
  const input = when as { delay?: unknown; at?: unknown } | undefined
  if (input && 'delay' in input && input.delay !== undefined) {
    if ('at' in input && input.at !== undefined) {
      throw new StatesourceError('INVALID_INPUT', 'Give a schedule either { delay } or { at }, not both.')
    }
    const delay = input.delay
    if (typeof delay !== 'number' || !Number.isFinite(delay) || delay < 0) {
      throw new StatesourceError(
        'INVALID_INPUT',
        `A schedule delay must be a finite number of milliseconds of at least 0, got ${String(delay)}.`,
      )
    }
    return now + delay
  }
  if (input && 'at' in input && input.at !== undefined) {
    const at = input.at instanceof Date ? input.at.getTime() : input.at
    if (typeof at !== 'number' || !Number.isFinite(at)) {
      throw new StatesourceError(
        'INVALID_INPUT',
        `A schedule time must be a valid Date or epoch milliseconds, got ${String(input.at)}.`,
      )
    }
    return at
  }
  throw new StatesourceError(
    'INVALID_INPUT',
    'A schedule needs { delay: milliseconds } or { at: Date | epochMs }.',
  )
}

/** @internal Reports a failed scheduled command to the logger (warn) and the callback. */
export function reportScheduleFailure(
  error: Error,
  info: ScheduledCommandInfo,
  logger: Logger,
  onError: ((error: Error, info: ScheduledCommandInfo) => void) | undefined,
  suffix = '',
): void {
  logger.warn(
    `Scheduled command "${info.command.type}" for "${info.aggregateType}" "${info.aggregateId}" (schedule "${info.id}") failed: ${error.message}${suffix}`,
    { scheduleId: info.id, error },
  )
  if (!onError) return
  try {
    onError(error, info)
  } catch (callbackError) {
    logger.warn(
      `The onError callback of schedule "${info.id}" threw: ${(callbackError as Error)?.message ?? callbackError}`,
      {
        scheduleId: info.id,
        error: callbackError,
      },
    )
  }
}

/**
 * Sends `command` to aggregate `id` through `repository` later, in this process: after a delay or at a
 * moment. Returns a handle with `cancel()` and a `done` promise. A failure (rejection, timeout, stopped
 * gateway) is reported through the logger at warn level and the optional `onError` callback.
 *
 * @remarks The pending command lives in memory: it is lost if the process exits. Use
 * {@link createDurableScheduler} for commands that must survive a restart.
 *
 * @example
 * ```ts
 * const reminder = scheduleCommand(accounts, 'acc-1', { type: 'close' }, { delay: 30 * 60_000 }, {
 *   onError: (error) => metrics.increment('scheduled.failed'),
 * })
 * // later, if the customer acted in time:
 * reminder.cancel()
 * ```
 */
export function scheduleCommand<A extends AnyAggregate>(
  repository: Repository<A>,
  id: string,
  command: CommandFrom<A>,
  when: ScheduleWhen,
  options: ScheduleCommandOptions = {},
): ScheduledCommand {
  assertScheduleInput('scheduleCommand', repository, id, command)
  if (
    options.commandId !== undefined &&
    (typeof options.commandId !== 'string' || options.commandId.length === 0)
  ) {
    throw new StatesourceError(
      'INVALID_INPUT',
      `commandId must be a non-empty string, got ${JSON.stringify(options.commandId)}.`,
    )
  }
  const dueAt = resolveDueAt(when, Date.now())
  const scheduleId = options.commandId ?? `scheduled:${randomUUID()}`
  const logger = options.logger ?? consoleLogger
  const info: ScheduledCommandInfo = {
    id: scheduleId,
    aggregateType: repository.aggregate.type,
    aggregateId: id,
    command: command as { type: string },
    dueAt,
  }
  let status: ScheduledCommand['status'] = 'pending'
  let resolveDone!: (outcome: ScheduleOutcome) => void
  const done = new Promise<ScheduleOutcome>((resolve) => (resolveDone = resolve))
  const fire = () => {
    status = 'firing'
    let sending: Promise<SendResult>
    try {
      sending = repository.send(id, command, { ...options.send, commandId: scheduleId })
    } catch (error) {
      sending = Promise.reject(error)
    }
    sending.then(
      (result) => {
        status = 'sent'
        resolveDone({ status: 'sent', result })
      },
      (cause: unknown) => {
        status = 'failed'
        const error = cause instanceof Error ? cause : new Error(String(cause))
        reportScheduleFailure(error, info, logger, options.onError)
        resolveDone({ status: 'failed', error })
      },
    )
  }
  const disarm = armTimer(dueAt, fire, options.unref ?? false)
  return {
    id: scheduleId,
    dueAt,
    get status() {
      return status
    },
    cancel() {
      if (status !== 'pending') return false
      disarm()
      status = 'cancelled'
      resolveDone({ status: 'cancelled' })
      return true
    },
    done,
  }
}
