import type { EventEnvelope } from '../persistence/envelope.ts'

/** An event a reader parked after its retries failed (error policy `'dead-letter'`). */
export interface DeadLetter {
  /** Unique in its store; pass it to `replayDeadLetter` or `delete`. */
  readonly id: number
  readonly projection: string
  readonly envelope: EventEnvelope
  /** The last error's message. */
  readonly error: string
  /** How many times the event was tried before it was parked. */
  readonly attempts: number
  /** Epoch milliseconds at which it was parked. */
  readonly parkedAt: number
}

/**
 * Where readers park the events they could not apply. Implementations: {@link InMemoryDeadLetterStore}, and a
 * SQLite table in `@statesource/sqlite`.
 *
 * @example
 * ```ts
 * const store: DeadLetterStore = createInMemoryDeadLetterStore()
 * const parked = await store.list('totals')
 * ```
 */
export interface DeadLetterStore {
  park(entry: Omit<DeadLetter, 'id'>): Promise<DeadLetter>
  /** Parked events of one projection (or of all), oldest first. */
  list(projection?: string): Promise<DeadLetter[]>
  get(id: number): Promise<DeadLetter | undefined>
  /** True when the entry existed. */
  delete(id: number): Promise<boolean>
}

/**
 * A {@link DeadLetterStore} in process memory: parked events last as long as the process.
 *
 * @example
 * ```ts
 * const store = new InMemoryDeadLetterStore()
 * console.log((await store.list()).length) // 0
 * ```
 */
export class InMemoryDeadLetterStore implements DeadLetterStore {
  readonly #entries = new Map<number, DeadLetter>()
  #next = 1

  async park(entry: Omit<DeadLetter, 'id'>): Promise<DeadLetter> {
    const stored: DeadLetter = Object.freeze({ ...entry, id: this.#next++ })
    this.#entries.set(stored.id, stored)
    return stored
  }

  async list(projection?: string): Promise<DeadLetter[]> {
    return [...this.#entries.values()].filter((e) => projection === undefined || e.projection === projection)
  }

  async get(id: number): Promise<DeadLetter | undefined> {
    return this.#entries.get(id)
  }

  async delete(id: number): Promise<boolean> {
    return this.#entries.delete(id)
  }
}

/**
 * Creates an {@link InMemoryDeadLetterStore}.
 *
 * @example
 * ```ts
 * const builder = CqrsPattern.builder({ journal: createInMemoryJournal() }).deadLetterStore(createInMemoryDeadLetterStore())
 * ```
 */
export function createInMemoryDeadLetterStore(): InMemoryDeadLetterStore {
  return new InMemoryDeadLetterStore()
}
