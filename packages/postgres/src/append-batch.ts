import {
  type AppendOutcome,
  type AppendRequest,
  ConcurrencyError,
  checkEventLimits,
  checkPersistenceId,
  checkText,
  checkTexts,
  DEFAULT_INPUT_LIMITS,
  type EventEnvelope,
  type EventMetadata,
  type ResolvedInputLimits,
  StatesourceError,
} from '@statesource/core'
import { encodeEventJson, encodeEventMetadata } from '@statesource/core/internal'
import { toDbText } from './pg-text.ts'

const NO_TAGS: readonly string[] = Object.freeze([])

/** An event serialized before its batch is sent. */
export interface EncodedEvent {
  readonly type: string
  readonly version: number
  readonly payloadJson: string
  readonly metadataJson: string
  /** JSON array of the stored (escaped) tags. */
  readonly tagsJson: string
  /** Distinct stored (escaped) tags: the rows of `statesource_event_tag`. */
  readonly uniqueTags: readonly string[]
  readonly payload: unknown
  readonly metadata: EventMetadata
  readonly tags: readonly string[]
}

/** A request that passed encoding and waits for its batch; the batch sets `outcome`. */
export interface PendingRequest {
  readonly persistenceId: string
  /** The stored (escaped) persistence id. */
  readonly storedId: string
  readonly expectedSeqNr: number
  readonly events: readonly EncodedEvent[]
  outcome: AppendOutcome | undefined
}

/** What every row of one batch shares. */
export interface AppendContext {
  readonly now: number
  readonly writerId: string
}

/**
 * Validates and serializes a request. Throws (failing this request only) on bad input or on a payload or
 * metadata that is not JSON (`SERIALIZATION_FAILED`, from core's `toJson`).
 */
export function encodeRequest(
  request: AppendRequest,
  limits: ResolvedInputLimits = DEFAULT_INPUT_LIMITS,
): PendingRequest {
  const { persistenceId, expectedSeqNr } = request
  if (typeof persistenceId !== 'string' || persistenceId.length === 0) {
    throw new StatesourceError('INVALID_INPUT', 'An append request needs a non-empty string persistenceId.')
  }
  if (!Number.isSafeInteger(expectedSeqNr) || expectedSeqNr < 0) {
    throw new StatesourceError(
      'INVALID_INPUT',
      `The append to "${persistenceId}" has expectedSeqNr ${expectedSeqNr}; it must be an integer >= 0.`,
    )
  }
  // Text columns store UTF-8: a lone surrogate would be changed, so it is refused, naming the field.
  checkText(persistenceId, 'persistenceId')
  for (const event of request.events) {
    checkText(event.type, 'event type')
    checkTexts(event.tags, 'tag')
  }
  checkPersistenceId(persistenceId, limits)
  const events: EncodedEvent[] = []
  for (const event of request.events) {
    const type = event.type
    if (typeof type !== 'string' || type.length === 0) {
      throw new StatesourceError('INVALID_INPUT', `An event for "${persistenceId}" has no type.`)
    }
    const version = event.version ?? 1
    if (!Number.isSafeInteger(version) || Math.abs(version) > 2_147_483_647) {
      throw new StatesourceError(
        'INVALID_INPUT',
        `Event "${type}" has version ${version}; it must be a 32-bit integer.`,
      )
    }
    const tags = event.tags ?? []
    for (const tag of tags) {
      if (typeof tag !== 'string') {
        throw new StatesourceError('INVALID_INPUT', `Event "${type}" has a tag that is not a string.`)
      }
    }
    const payload = encodeEventJson(event.payload, 'payload', type)
    const metadata = encodeEventMetadata(event.metadata, type)
    checkEventLimits(
      persistenceId,
      { type, tags },
      { payloadJson: payload.json, metadataJson: metadata.json },
      limits,
    )
    const stored = tags.length === 0 ? NO_TAGS : tags.map(toDbText)
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
  return { persistenceId, storedId: toDbText(persistenceId), expectedSeqNr, events, outcome: undefined }
}

/** The parameters of one call of the append function (see `postgres-schema.ts`), in its order. */
export function appendParams(
  requests: readonly PendingRequest[],
  context: AppendContext,
  channel: string,
): unknown[] {
  const pids: string[] = []
  const expected: number[] = []
  const counts: number[] = []
  const firsts: (number | null)[] = []
  const eRequest: number[] = []
  const eIndex: number[] = []
  const types: string[] = []
  const versions: number[] = []
  const payloads: string[] = []
  const metadata: string[] = []
  const tags: string[] = []
  const tEvent: number[] = []
  const tTags: string[] = []
  for (let r = 0; r < requests.length; r++) {
    const request = requests[r]!
    pids.push(request.storedId)
    expected.push(request.expectedSeqNr)
    counts.push(request.events.length)
    firsts.push(request.events.length > 0 ? types.length + 1 : null)
    for (let k = 0; k < request.events.length; k++) {
      const event = request.events[k]!
      eRequest.push(r + 1)
      eIndex.push(k + 1)
      types.push(toDbText(event.type))
      versions.push(event.version)
      payloads.push(event.payloadJson)
      metadata.push(event.metadataJson)
      tags.push(event.tagsJson)
      for (const tag of event.uniqueTags) {
        tEvent.push(types.length)
        tTags.push(tag)
      }
    }
  }
  return [
    pids,
    expected,
    counts,
    firsts,
    eRequest,
    eIndex,
    types,
    versions,
    payloads,
    metadata,
    tags,
    tEvent,
    tTags,
    context.now,
    toDbText(context.writerId),
    channel,
  ]
}

/** What the append function returns. */
export interface AppendResult {
  readonly accepted: readonly boolean[]
  readonly current_seq: readonly (string | number)[]
  readonly base: string | number | null
}

/** Sets each request's outcome from the append function's result. */
export function applyResult(
  requests: readonly PendingRequest[],
  result: AppendResult,
  context: AppendContext,
): { stored: number; lastOrdering: number } {
  let ordering = result.base === null ? 0 : Number(result.base)
  let stored = 0
  for (let r = 0; r < requests.length; r++) {
    const request = requests[r]!
    if (!result.accepted[r]) {
      const current = Number(result.current_seq[r])
      request.outcome = {
        ok: false,
        error: new ConcurrencyError(request.persistenceId, request.expectedSeqNr, current),
      }
      continue
    }
    const envelopes: EventEnvelope[] = []
    let seqNr = request.expectedSeqNr
    for (const event of request.events) {
      envelopes.push({
        ordering: ++ordering,
        persistenceId: request.persistenceId,
        seqNr: ++seqNr,
        type: event.type,
        version: event.version,
        payload: event.payload,
        tags: event.tags,
        metadata: event.metadata,
        timestamp: context.now,
        writerId: context.writerId,
      })
    }
    stored += envelopes.length
    request.outcome = { ok: true, envelopes }
  }
  return { stored, lastOrdering: ordering }
}
