/**
 * Metadata stored with every event. `commandId` makes commands idempotent across restarts;
 * the rest is for tracing and auditing. Values must be JSON-serializable.
 */
export interface EventMetadata {
  commandId?: string
  /** Hash of the command payload under `commandId`, used to reject a reused id with a different payload. */
  commandHash?: string
  correlationId?: string
  causationId?: string
  userId?: string
  [key: string]: unknown
}

/**
 * A persisted event as every journal and read journal returns it.
 *
 * `ordering` is the global position: strictly increasing across all streams, never reused.
 * `seqNr` is the position inside the stream (1, 2, 3, ... without gaps).
 */
export interface EventEnvelope<TPayload = unknown> {
  readonly ordering: number
  readonly persistenceId: string
  readonly seqNr: number
  /** The event type, e.g. `deposited`. */
  readonly type: string
  /** The schema version of the payload (1 unless the aggregate says otherwise). */
  readonly version: number
  /** The payload: the event without its `type`. */
  readonly payload: TPayload
  readonly tags: readonly string[]
  readonly metadata: EventMetadata
  /** Epoch milliseconds at which the event was written. */
  readonly timestamp: number
  /** Identifies the process or instance that wrote the event. */
  readonly writerId: string
}

/** `type@version`: the key of the EventCodecRegistry and the name used in errors. */
export function manifestOf(envelope: { type: string; version: number }): string {
  return `${envelope.type}@${envelope.version}`
}

/** An event to append: everything but the positions and the timestamp, which the journal assigns. */
export interface NewEvent {
  readonly type: string
  readonly version: number
  readonly payload: unknown
  readonly tags: readonly string[]
  readonly metadata: EventMetadata
}

/** Append `events` to `persistenceId`, which must currently be at `expectedSeqNr` (0 for a new stream). */
export interface AppendRequest {
  readonly persistenceId: string
  readonly expectedSeqNr: number
  readonly events: readonly NewEvent[]
}

/** The outcome of one request of a journal append: the stored envelopes, or why this request failed. */
export type AppendOutcome =
  | { readonly ok: true; readonly envelopes: readonly EventEnvelope[] }
  | { readonly ok: false; readonly error: Error }
