import { StatesourceError } from '../errors.ts'

/**
 * Size limits every journal enforces in `append`, and the gateway at intake (the persistence id, before it
 * queues or recovers anything). Sizes are UTF-8 bytes, as stored.
 *
 * @example
 * ```ts
 * const journal = createInMemoryJournal({ limits: { maxPayloadBytes: 4 * 1024 * 1024 } })
 * const sqlite = await openSqlite('app.db', { limits: { maxTagBytes: 512 } })
 * ```
 *
 * @remarks
 * An append that breaks a limit fails its own request with `INVALID_INPUT` (naming the limit and where to
 * raise it); nothing of that request is written and the other requests of the call are unaffected.
 */
export interface InputLimits {
  /** An event's payload as stored JSON. Default 1,048,576 (1 MiB). */
  readonly maxPayloadBytes?: number
  /** An event's metadata as stored JSON. Default 65,536 (64 KiB). */
  readonly maxMetadataBytes?: number
  /** A persistence id (`type|id`). Default 1,024. */
  readonly maxPersistenceIdBytes?: number
  /** An event type. Default 256. */
  readonly maxEventTypeBytes?: number
  /** One tag. Default 256. */
  readonly maxTagBytes?: number
  /** Tags on one event. Default 64. */
  readonly maxTagsPerEvent?: number
}

/** {@link InputLimits} with every default filled in. */
export type ResolvedInputLimits = { readonly [K in keyof InputLimits]-?: number }

/**
 * The limits a journal enforces when it is given none.
 *
 * @example
 * ```ts
 * const twice = createInMemoryJournal({ limits: { maxPayloadBytes: 2 * DEFAULT_INPUT_LIMITS.maxPayloadBytes } })
 * ```
 */
export const DEFAULT_INPUT_LIMITS: ResolvedInputLimits = Object.freeze({
  maxPayloadBytes: 1_048_576,
  maxMetadataBytes: 65_536,
  maxPersistenceIdBytes: 1_024,
  maxEventTypeBytes: 256,
  maxTagBytes: 256,
  maxTagsPerEvent: 64,
})

/**
 * Fills in the defaults and checks that every limit is a positive integer. `where` names the place the
 * limits are given (`'createInMemoryJournal'`), for the error message and for the messages of
 * {@link checkEventLimits}.
 *
 * @example
 * ```ts
 * const limits = resolveInputLimits({ maxTagBytes: 512 }, 'openPostgres')
 * ```
 */
export function resolveInputLimits(limits: InputLimits | undefined, where: string): ResolvedInputLimits {
  const resolved = { ...DEFAULT_INPUT_LIMITS, ...stripUndefined(limits ?? {}) }
  for (const [name, value] of Object.entries(resolved)) {
    if (!(Number.isSafeInteger(value) && value >= 1)) {
      throw new StatesourceError(
        'INVALID_INPUT',
        `limits.${name} must be an integer of at least 1, got ${value} (${where}).`,
      )
    }
  }
  // Where they were given, for the messages; not enumerable, so the limits stay plain data.
  Object.defineProperty(resolved, WHERE, { value: where })
  return Object.freeze(resolved)
}

const WHERE = Symbol('where')

function whereOf(limits: ResolvedInputLimits): string {
  return (limits as { [WHERE]?: string })[WHERE] ?? 'where the journal is created'
}

function stripUndefined(limits: InputLimits): InputLimits {
  return Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined))
}

/** UTF-8 length of `text`, computed only when it could exceed `max` (a UTF-16 unit is 1 to 3 bytes). */
function exceeds(text: string, max: number): number | undefined {
  if (text.length * 3 <= max) return undefined
  if (text.length > max) return Buffer.byteLength(text, 'utf8')
  const bytes = Buffer.byteLength(text, 'utf8')
  return bytes > max ? bytes : undefined
}

function tooLarge(
  what: string,
  bytes: number,
  limit: keyof ResolvedInputLimits,
  limits: ResolvedInputLimits,
) {
  return new StatesourceError(
    'INVALID_INPUT',
    `${what} is ${bytes.toLocaleString('en-US')} bytes; the limit is ${limits[limit].toLocaleString('en-US')} (limits.${limit}). Nothing was written. Keep large data out of events (store a reference), or raise limits.${limit} (${whereOf(limits)}).`,
  )
}

/**
 * Throws `INVALID_INPUT` when a persistence id is longer than `limits.maxPersistenceIdBytes`.
 *
 * @example
 * ```ts
 * checkPersistenceId(request.persistenceId, limits)
 * ```
 */
export function checkPersistenceId(persistenceId: string, limits: ResolvedInputLimits): void {
  const bytes = exceeds(persistenceId, limits.maxPersistenceIdBytes)
  if (bytes !== undefined) {
    throw tooLarge(`The persistence id ${quoted(persistenceId)}`, bytes, 'maxPersistenceIdBytes', limits)
  }
}

/**
 * Throws `INVALID_INPUT` when an event to append breaks a limit: its type, a tag, the number of tags, or
 * its payload or metadata as serialized JSON (journals pass the JSON they are about to store).
 *
 * @example
 * ```ts
 * checkEventLimits(request.persistenceId, event, { payloadJson, metadataJson }, limits)
 * ```
 */
export function checkEventLimits(
  persistenceId: string,
  event: { readonly type: string; readonly tags: readonly string[] },
  json: { readonly payloadJson: string; readonly metadataJson: string },
  limits: ResolvedInputLimits,
): void {
  const pid = quoted(persistenceId)
  if (typeof event.type !== 'string' || !Array.isArray(event.tags)) {
    throw new StatesourceError(
      'INVALID_INPUT',
      `An event for ${pid} needs a string type and an array of tags. Nothing was written.`,
    )
  }
  const typeBytes = exceeds(event.type, limits.maxEventTypeBytes)
  if (typeBytes !== undefined) {
    throw tooLarge(
      `The type of an event for ${pid} (${quoted(event.type)})`,
      typeBytes,
      'maxEventTypeBytes',
      limits,
    )
  }
  if (event.tags.length > limits.maxTagsPerEvent) {
    throw new StatesourceError(
      'INVALID_INPUT',
      `Event ${quoted(event.type)} for ${pid} has ${event.tags.length} tags; the limit is ${limits.maxTagsPerEvent} (limits.maxTagsPerEvent). Nothing was written. Use fewer tags, or raise limits.maxTagsPerEvent (${whereOf(limits)}).`,
    )
  }
  for (const tag of event.tags) {
    const tagBytes = exceeds(tag, limits.maxTagBytes)
    if (tagBytes !== undefined) {
      throw tooLarge(
        `A tag of event ${quoted(event.type)} for ${pid} (${quoted(tag)})`,
        tagBytes,
        'maxTagBytes',
        limits,
      )
    }
  }
  const payloadBytes = exceeds(json.payloadJson, limits.maxPayloadBytes)
  if (payloadBytes !== undefined) {
    throw tooLarge(
      `The payload of event ${quoted(event.type)} for ${pid}`,
      payloadBytes,
      'maxPayloadBytes',
      limits,
    )
  }
  const metadataBytes = exceeds(json.metadataJson, limits.maxMetadataBytes)
  if (metadataBytes !== undefined) {
    throw tooLarge(
      `The metadata of event ${quoted(event.type)} for ${pid}`,
      metadataBytes,
      'maxMetadataBytes',
      limits,
    )
  }
}

/** A string in quotes, cut to 80 characters: an oversized id must not make an oversized message. */
function quoted(text: string): string {
  return text.length > 80 ? `"${text.slice(0, 80)}…"` : `"${text}"`
}
