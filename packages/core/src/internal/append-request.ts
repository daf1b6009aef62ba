// Hot path: measured by packages/sqlite/bench/journal-bench.ts (pnpm bench). Measure before and after changing this file.
import { StatesourceError } from '../errors.ts'
import { checkText, checkTexts } from '../persistence/check-text.ts'
import type { AppendOutcome, AppendRequest, EventMetadata } from '../persistence/envelope.ts'
import {
  checkEventLimits,
  checkPersistenceId,
  DEFAULT_INPUT_LIMITS,
  type ResolvedInputLimits,
} from '../persistence/limits.ts'
import { encodeEventJson, encodeEventMetadata } from './json.ts'

const NO_TAGS: readonly string[] = Object.freeze([])
const INT32_MAX = 2_147_483_647

/** An event checked and serialized before its batch is written. */
export interface EncodedEvent {
  readonly type: string
  readonly version: number
  readonly payloadJson: string
  readonly metadataJson: string
  /** JSON array of the stored tags (see {@link AppendEncoding.storedText}). */
  readonly tagsJson: string
  /** The distinct stored tags: one tag-index row each. */
  readonly uniqueTags: readonly string[]
  readonly payload: unknown
  readonly metadata: EventMetadata
  readonly tags: readonly string[]
}

/** A request that passed encoding and waits for its batch; the batch sets `outcome`. */
export interface PendingAppend {
  readonly persistenceId: string
  /** The persistence id as the id columns store it (see {@link AppendEncoding.storedText}). */
  readonly storedId: string
  readonly expectedSeqNr: number
  readonly events: readonly EncodedEvent[]
  outcome: AppendOutcome | undefined
}

/** What a database's columns ask of the encoding. */
export interface AppendEncoding {
  /** Versions go in a 32-bit integer column: refuse the others. Default: any safe integer. */
  readonly int32Versions?: boolean
  /** How the persistence id and the tags are written in their columns (PostgreSQL escapes NUL). Default: as they are. */
  readonly storedText?: (text: string) => string
}

/**
 * Checks and serializes an append request the way every SQL journal does. Throws (failing this request only)
 * on bad input, on lone surrogates in the persistence id, an event type or a tag (stored as UTF-8 they would be
 * changed), on input beyond `limits` (`INVALID_INPUT`), and on a payload or metadata that is not JSON
 * (`SERIALIZATION_FAILED`).
 */
export function encodeAppendRequest(
  request: AppendRequest,
  limits: ResolvedInputLimits = DEFAULT_INPUT_LIMITS,
  encoding: AppendEncoding = {},
): PendingAppend {
  const { persistenceId, expectedSeqNr } = request
  if (typeof persistenceId !== 'string' || persistenceId.length === 0) {
    throw new StatesourceError('INVALID_INPUT', 'An append request needs a non-empty string persistenceId.')
  }
  checkText(persistenceId, 'persistenceId')
  if (!Number.isSafeInteger(expectedSeqNr) || expectedSeqNr < 0) {
    throw new StatesourceError(
      'INVALID_INPUT',
      `The append to "${persistenceId}" has expectedSeqNr ${expectedSeqNr}; it must be an integer >= 0.`,
    )
  }
  checkPersistenceId(persistenceId, limits)
  const { int32Versions = false, storedText } = encoding
  const events: EncodedEvent[] = []
  for (const event of request.events) {
    const type = event.type
    if (typeof type !== 'string' || type.length === 0) {
      throw new StatesourceError('INVALID_INPUT', `An event for "${persistenceId}" has no type.`)
    }
    checkText(type, 'event type')
    const version = event.version ?? 1
    if (!Number.isSafeInteger(version) || (int32Versions && Math.abs(version) > INT32_MAX)) {
      throw new StatesourceError(
        'INVALID_INPUT',
        `Event "${type}" has version ${version}; it must be ${int32Versions ? 'a 32-bit integer' : 'an integer'}.`,
      )
    }
    const tags = event.tags ?? []
    for (const tag of tags) {
      if (typeof tag !== 'string') {
        throw new StatesourceError('INVALID_INPUT', `Event "${type}" has a tag that is not a string.`)
      }
    }
    checkTexts(tags, 'tag')
    const payload = encodeEventJson(event.payload, 'payload', type)
    const metadata = encodeEventMetadata(event.metadata, type)
    checkEventLimits(
      persistenceId,
      { type, tags },
      { payloadJson: payload.json, metadataJson: metadata.json },
      limits,
    )
    const stored = tags.length === 0 ? NO_TAGS : storedText ? tags.map(storedText) : tags
    events.push({
      type,
      version,
      payloadJson: payload.json,
      metadataJson: metadata.json,
      tagsJson: stored.length === 0 ? '[]' : JSON.stringify(stored),
      uniqueTags: stored.length < 2 ? stored : [...new Set(stored)],
      payload: payload.value,
      metadata: metadata.value as EventMetadata,
      tags: tags.length === 0 ? NO_TAGS : [...tags],
    })
  }
  const storedId = storedText ? storedText(persistenceId) : persistenceId
  return { persistenceId, storedId, expectedSeqNr, events, outcome: undefined }
}

/** A journal call's requests after encoding: see {@link encodeAppendRequests}. */
export interface EncodedAppendCall {
  /** One per request, in order: its outcome already (encoding failed), or the request waiting for its batch. */
  readonly slots: (PendingAppend | AppendOutcome)[]
  /** The requests that passed encoding, in order. */
  readonly pending: PendingAppend[]
  /** The events of `pending`, counted. */
  readonly events: number
}

/**
 * Encodes the requests of one `append` call with {@link encodeAppendRequest}: a request that fails takes its
 * failure as its outcome at once, in its own slot, and the others go on to their batch.
 */
export function encodeAppendRequests(
  requests: readonly AppendRequest[],
  limits: ResolvedInputLimits,
  encoding?: AppendEncoding,
): EncodedAppendCall {
  const slots: (PendingAppend | AppendOutcome)[] = []
  const pending: PendingAppend[] = []
  let events = 0
  for (const request of requests) {
    try {
      const encoded = encodeAppendRequest(request, limits, encoding)
      slots.push(encoded)
      pending.push(encoded)
      events += encoded.events.length
    } catch (error) {
      slots.push({ ok: false, error: error as Error })
    }
  }
  return { slots, pending, events }
}
