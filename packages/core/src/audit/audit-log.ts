import type { DomainEvent } from '../codec/event-codec-registry.ts'
import { NotConfiguredError } from '../errors.ts'
import type { EventEnvelope, EventMetadata } from '../persistence/envelope.ts'
import type { Reader, ReaderErrorPolicy } from '../read-side/reader.ts'
import { ReaderFilter } from '../read-side/reader-filter.ts'

/** One audited event: where it is, what it is, when and by whom (its metadata). */
export interface AuditEntry {
  readonly ordering: number
  readonly persistenceId: string
  readonly seqNr: number
  readonly type: string
  readonly version: number
  readonly timestamp: number
  readonly metadata: EventMetadata
  readonly tags: readonly string[]
  /** The decoded event (after upcasting). */
  readonly event: DomainEvent
}

/** Default ring capacity of {@link AuditLog}. */
export const DEFAULT_AUDIT_CAPACITY = 1_024

/**
 * The audit log's state: a ring of the last `capacity` entries.
 *
 * @example
 * ```ts
 * const ring = new AuditProjection(3)
 * console.log(ring.recent(2)) // []
 * ```
 *
 * @remarks The ring is updated in place (one object per log, no copy per event); subscribers of the projection
 * handle are still notified once per applied page, since the offset moves.
 */
export class AuditProjection {
  readonly capacity: number
  readonly #ring: AuditEntry[] = []
  #start = 0
  #total = 0

  constructor(capacity: number = DEFAULT_AUDIT_CAPACITY) {
    if (!(Number.isInteger(capacity) && capacity >= 1)) {
      throw new NotConfiguredError(
        'audit.capacity',
        `The audit log capacity must be an integer of at least 1, got ${capacity}.`,
      )
    }
    this.capacity = capacity
  }

  /** Entries currently held (at most `capacity`). */
  get size(): number {
    return this.#ring.length
  }

  /** Entries ever added, including those the ring dropped. */
  get total(): number {
    return this.#total
  }

  /** Adds an entry, dropping the oldest when full. */
  push(entry: AuditEntry): void {
    this.#total++
    if (this.#ring.length < this.capacity) {
      this.#ring.push(entry)
      return
    }
    this.#ring[this.#start] = entry
    this.#start = (this.#start + 1) % this.capacity
  }

  /** The last `n` entries (default: all held), oldest first. */
  recent(n: number = this.capacity): AuditEntry[] {
    const count = Math.max(0, Math.min(Math.floor(n), this.#ring.length))
    const out: AuditEntry[] = []
    for (let i = this.#ring.length - count; i < this.#ring.length; i++) {
      out.push(this.#ring[(this.#start + i) % this.#ring.length]!)
    }
    return out
  }
}

/** Options of {@link AuditLog}. */
export interface AuditLogConfig {
  /** Ring capacity in entries. Default 1,024. */
  readonly capacity?: number
  /** Reader name. Default `"audit"`. */
  readonly name?: string
  /** Default every event. */
  readonly filter?: ReaderFilter
  /** Default `'skip'`: an undecodable event must not stop the audit trail. */
  readonly errorPolicy?: ReaderErrorPolicy
}

/**
 * A built-in reader that keeps the last N envelopes (position, type, timestamp, metadata and the decoded event).
 *
 * @example
 * ```ts
 * const audit = builder.withReader(new AuditLog({ capacity: 3 }))
 * // after materialize and some commands:
 * console.log(audit.state.recent(2).map((e) => `${e.persistenceId}#${e.seqNr} ${e.type}`))
 * ```
 *
 * @remarks `capacity` is honoured however the log is wired (the reference design always used 1,024). The ring
 * lives in memory, so it refills from the journal at each start.
 */
export class AuditLog implements Reader<AuditProjection> {
  readonly name: string
  readonly capacity: number
  readonly filter: ReaderFilter
  readonly errorPolicy: ReaderErrorPolicy

  constructor(config: AuditLogConfig = {}) {
    this.capacity = config.capacity ?? DEFAULT_AUDIT_CAPACITY
    this.name = config.name ?? 'audit'
    this.filter = config.filter ?? ReaderFilter.all()
    this.errorPolicy = config.errorPolicy ?? 'skip'
    // Fail at construction, not at the first event.
    new AuditProjection(this.capacity)
  }

  /** A fresh ring of this log's capacity, each time the projection starts or rebuilds. */
  get initialState(): AuditProjection {
    return new AuditProjection(this.capacity)
  }

  apply(state: AuditProjection, event: DomainEvent, envelope: EventEnvelope): AuditProjection {
    state.push({
      ordering: envelope.ordering,
      persistenceId: envelope.persistenceId,
      seqNr: envelope.seqNr,
      type: envelope.type,
      version: envelope.version,
      timestamp: envelope.timestamp,
      metadata: envelope.metadata,
      tags: envelope.tags,
      event,
    })
    return state
  }
}
