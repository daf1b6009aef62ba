import {
  type AppendRequest,
  ConcurrencyError,
  DEFAULT_INPUT_LIMITS,
  type EventEnvelope,
  type ResolvedInputLimits,
} from '@statesource/core'
import {
  type AppendEncoding,
  type EncodedAppendCall,
  encodeAppendRequest,
  encodeAppendRequests,
  type PendingAppend,
} from '@statesource/core/internal'
import { toDbText } from './pg-text.ts'

/** A request that passed encoding and waits for its batch; its tags and `storedId` are escaped (`toDbText`). */
export type PendingRequest = PendingAppend

/** What every row of one batch shares. */
export interface AppendContext {
  readonly now: number
  readonly writerId: string
}

/** `version` is an `int` column; NUL cannot be stored in `text`, so tags are escaped. */
const POSTGRES_ENCODING: AppendEncoding = { int32Versions: true, storedText: toDbText }

/**
 * Validates and serializes a request (core's encoding, with PostgreSQL's 32-bit version column and escaped
 * text). Throws (failing this request only) on bad input or on a payload or metadata that is not JSON.
 */
export function encodeRequest(
  request: AppendRequest,
  limits: ResolvedInputLimits = DEFAULT_INPUT_LIMITS,
): PendingRequest {
  return encodeAppendRequest(request, limits, POSTGRES_ENCODING)
}

/** {@link encodeRequest} for every request of one `append` call: a request that fails takes its outcome at once. */
export function encodeRequests(
  requests: readonly AppendRequest[],
  limits: ResolvedInputLimits,
): EncodedAppendCall {
  return encodeAppendRequests(requests, limits, POSTGRES_ENCODING)
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
