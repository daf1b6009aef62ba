import { StatesourceError } from '../errors.ts'

/**
 * A scheduled command as a {@link ScheduleStore} keeps it.
 *
 * @example
 * ```ts
 * const entry: StoredSchedule = {
 *   id: 'reminder-1', aggregateType: 'account', aggregateId: 'acc-1',
 *   command: { type: 'close' }, dueAt: Date.now() + 60_000, commandId: 'reminder-1',
 *   metadata: {}, createdAt: Date.now(), status: 'pending',
 * }
 * ```
 */
export interface StoredSchedule {
  /** Unique schedule id (also the default command id). */
  readonly id: string
  readonly aggregateType: string
  readonly aggregateId: string
  /** The command, as plain JSON data. */
  readonly command: { readonly type: string; readonly [key: string]: unknown }
  /** Epoch milliseconds at which it is due. */
  readonly dueAt: number
  /** The idempotency key of the send: a second fire after a crash returns the first result. */
  readonly commandId: string
  /** Stored with the command's events (the scheduler adds `scheduleId`). */
  readonly metadata: Readonly<Record<string, unknown>>
  readonly createdAt: number
  readonly status: ScheduleStatus
  /** When it was settled (fired, cancelled or failed). */
  readonly settledAt?: number
  /** Why it failed. */
  readonly error?: string
}

/**
 * The life of a stored schedule: `pending` until it is fired, cancelled or failed; the others are final.
 *
 * @example
 * ```ts
 * const done = (s: ScheduleStatus) => s !== 'pending'
 * ```
 */
export type ScheduleStatus = 'pending' | 'fired' | 'cancelled' | 'failed'

/**
 * How a pending schedule ended.
 *
 * @example
 * ```ts
 * const settlement: ScheduleSettlement = { status: 'fired', at: Date.now() }
 * ```
 */
export interface ScheduleSettlement {
  readonly status: 'fired' | 'cancelled' | 'failed'
  readonly at: number
  readonly error?: string
}

/**
 * Where a durable scheduler keeps pending commands, so they survive a restart. Implementations: the
 * in-memory store here (tests), the SQLite store in `@statesource/sqlite`.
 *
 * @example
 * ```ts
 * const store: ScheduleStore = createInMemoryScheduleStore()
 * await store.add({ ...entry, status: 'pending' })
 * const due = await store.pending()
 * ```
 */
export interface ScheduleStore {
  /** Adds a pending schedule. Rejects with `INVALID_INPUT` when the id is already stored. */
  add(schedule: StoredSchedule): Promise<void>
  /** Every pending schedule, earliest `dueAt` first (ties by id). */
  pending(): Promise<StoredSchedule[]>
  /** One schedule in any status, or undefined. */
  get(id: string): Promise<StoredSchedule | undefined>
  /**
   * Settles a pending schedule. Returns true when it was pending and is now settled, false when it was
   * already settled or unknown: this compare-and-set decides a race between a fire and a cancel.
   */
  settle(id: string, settlement: ScheduleSettlement): Promise<boolean>
  /** Deletes settled schedules settled before `before` (epoch ms). Returns how many were deleted. */
  purge(before: number): Promise<number>
}

/**
 * A {@link ScheduleStore} in process memory: for tests and for schedules that need not survive a restart.
 *
 * @example
 * ```ts
 * const store = new InMemoryScheduleStore()
 * ```
 */
export class InMemoryScheduleStore implements ScheduleStore {
  readonly #entries = new Map<string, StoredSchedule>()

  async add(schedule: StoredSchedule): Promise<void> {
    if (this.#entries.has(schedule.id)) throw duplicateScheduleError(schedule.id)
    // A copy through JSON, as a database would store it: later changes by the caller do not leak in.
    this.#entries.set(schedule.id, JSON.parse(JSON.stringify(schedule)) as StoredSchedule)
  }

  async pending(): Promise<StoredSchedule[]> {
    return [...this.#entries.values()]
      .filter((s) => s.status === 'pending')
      .sort((a, b) => a.dueAt - b.dueAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  }

  async get(id: string): Promise<StoredSchedule | undefined> {
    return this.#entries.get(id)
  }

  async settle(id: string, settlement: ScheduleSettlement): Promise<boolean> {
    const entry = this.#entries.get(id)
    if (entry?.status !== 'pending') return false
    this.#entries.set(id, {
      ...entry,
      status: settlement.status,
      settledAt: settlement.at,
      ...(settlement.error !== undefined ? { error: settlement.error } : {}),
    })
    return true
  }

  async purge(before: number): Promise<number> {
    let deleted = 0
    for (const [id, entry] of this.#entries) {
      if (entry.status !== 'pending' && (entry.settledAt ?? 0) < before) {
        this.#entries.delete(id)
        deleted++
      }
    }
    return deleted
  }
}

/**
 * Creates an {@link InMemoryScheduleStore}.
 *
 * @example
 * ```ts
 * const scheduler = createDurableScheduler({ store: createInMemoryScheduleStore(), handles })
 * ```
 */
export function createInMemoryScheduleStore(): InMemoryScheduleStore {
  return new InMemoryScheduleStore()
}

/**
 * The error a store raises for a schedule id it already holds.
 *
 * @example
 * ```ts
 * throw duplicateScheduleError('reminder-1')
 * ```
 */
export function duplicateScheduleError(id: string): StatesourceError {
  return new StatesourceError(
    'INVALID_INPUT',
    `A schedule with id "${id}" already exists. Use a new schedule id, or cancel the old one first.`,
  )
}

/** @deprecated Use {@link duplicateScheduleError}: it returns the error, and the name should say so. */
export function duplicateSchedule(id: string): StatesourceError {
  return duplicateScheduleError(id)
}
