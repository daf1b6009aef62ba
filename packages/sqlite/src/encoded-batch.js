// @ts-check
// Hot path: measured by packages/sqlite/bench/journal-bench.ts (pnpm bench). Measure before and after changing this file.
// The format of one group-commit batch as it crosses to the writer thread, and of the results that come back:
// the one place both threads read it from. Plain JavaScript because the writer thread
// (`journal-writer.worker.js`) loads it without a TypeScript loader.

/**
 * An event of a batch: serialized before its transaction starts (`EncodedEvent` in `append-batch.ts` is one).
 *
 * @typedef {object} BatchEvent
 * @property {string} type
 * @property {number} version
 * @property {string} payloadJson
 * @property {string} metadataJson
 * @property {string} tagsJson The tags as stored (a JSON array, duplicates kept).
 * @property {readonly string[]} uniqueTags The tags without duplicates, one tag row each.
 */

/**
 * A request of a batch (`PendingRequest` in `append-batch.ts` is one).
 *
 * @typedef {object} BatchRequest
 * @property {string} persistenceId
 * @property {number} expectedSeqNr
 * @property {readonly BatchEvent[]} events
 */

/**
 * A batch as posted to the writer thread: every string of every request back to back in `text`, and the numbers
 * that cut it up in `layout` ({@link REQUEST} and {@link EVENT} name the slots). Posting it copies one string and
 * moves one buffer instead of walking thousands of values.
 *
 * @typedef {object} EncodedBatch
 * @property {string} text
 * @property {Float64Array} layout
 * @property {number} requests How many requests the batch holds.
 */

/**
 * The slots of one request in `layout`, in order; its events follow. The persistence id is the request's
 * string in `text`.
 */
export const REQUEST = Object.freeze({
  /** Length of the persistence id in `text`. */
  persistenceIdLength: 0,
  expectedSeqNr: 1,
  /** How many events follow. */
  eventCount: 2,
  /** Slots per request. */
  size: 3,
})

/**
 * The slots of one event in `layout`, in order; then one slot per distinct tag, holding its length. The strings
 * follow each other in `text` in this order: type, payload JSON, metadata JSON, tags JSON, then each tag.
 */
export const EVENT = Object.freeze({
  typeLength: 0,
  version: 1,
  payloadLength: 2,
  metadataLength: 3,
  tagsJsonLength: 4,
  /** How many tag-length slots follow. */
  tagCount: 5,
  /** Slots per event, before its tags. */
  size: 6,
})

/**
 * Lays requests out as an {@link EncodedBatch}.
 *
 * @param {readonly BatchRequest[]} requests
 * @returns {EncodedBatch}
 */
export function encodeBatch(requests) {
  /** @type {string[]} */
  const parts = []
  /** @type {number[]} */
  const layout = []
  for (const request of requests) {
    parts.push(request.persistenceId)
    // In REQUEST order.
    layout.push(request.persistenceId.length, request.expectedSeqNr, request.events.length)
    for (const event of request.events) {
      parts.push(event.type, event.payloadJson, event.metadataJson, event.tagsJson)
      // In EVENT order.
      layout.push(
        event.type.length,
        event.version,
        event.payloadJson.length,
        event.metadataJson.length,
        event.tagsJson.length,
        event.uniqueTags.length,
      )
      for (const tag of event.uniqueTags) {
        parts.push(tag)
        layout.push(tag.length)
      }
    }
  }
  return { text: parts.join(''), layout: new Float64Array(layout), requests: requests.length }
}

/** @type {readonly string[]} */
const NO_TAGS = Object.freeze([])

/**
 * Reads the requests back out of an {@link EncodedBatch}.
 *
 * @param {EncodedBatch} batch
 * @returns {BatchRequest[]}
 */
export function decodeBatch({ text, layout, requests }) {
  /** @type {BatchRequest[]} */
  const decoded = []
  let at = 0 // in layout
  let from = 0 // in text
  const next = (/** @type {number} */ length) => {
    const start = from
    from += length
    return text.slice(start, from)
  }
  const slot = (/** @type {number} */ offset) => /** @type {number} */ (layout[at + offset])
  for (let r = 0; r < requests; r++) {
    const persistenceId = next(slot(REQUEST.persistenceIdLength))
    const expectedSeqNr = slot(REQUEST.expectedSeqNr)
    const eventCount = slot(REQUEST.eventCount)
    at += REQUEST.size
    /** @type {BatchEvent[]} */
    const events = []
    for (let e = 0; e < eventCount; e++) {
      const type = next(slot(EVENT.typeLength))
      const version = slot(EVENT.version)
      const payloadJson = next(slot(EVENT.payloadLength))
      const metadataJson = next(slot(EVENT.metadataLength))
      const tagsJson = next(slot(EVENT.tagsJsonLength))
      const tagCount = slot(EVENT.tagCount)
      at += EVENT.size
      /** @type {readonly string[]} */
      let uniqueTags = NO_TAGS
      if (tagCount > 0) {
        /** @type {string[]} */
        const tags = []
        for (let t = 0; t < tagCount; t++) tags.push(next(slot(t)))
        uniqueTags = tags
        at += tagCount
      }
      events.push({ type, version, payloadJson, metadataJson, tagsJson, uniqueTags })
    }
    decoded.push({ persistenceId, expectedSeqNr, events })
  }
  return decoded
}

// Results of a transaction: one flat array of numbers for the whole batch. Per request, in order, a status:
// ACCEPTED followed by the ordering of each of its events (orderings are >= 1), or a conflict status, which is
// negative and holds the stream's current sequence number.

/** The status of a request whose events were stored; their orderings follow it in the results. */
export const ACCEPTED = 0

/**
 * The status of a request that conflicted: the stream was at `head`, not at its `expectedSeqNr`.
 *
 * @param {number} head
 * @returns {number}
 */
export function conflictStatus(head) {
  return -1 - head
}

/**
 * The stream's sequence number a conflict status holds, or `undefined` for {@link ACCEPTED}.
 *
 * @param {number} status
 * @returns {number | undefined}
 */
export function conflictHead(status) {
  return status < 0 ? -1 - status : undefined
}

/**
 * How many events the results of one transaction stored, and the highest ordering among them.
 *
 * @param {readonly number[]} results
 * @returns {{ stored: number, lastOrdering: number }}
 */
export function storedIn(results) {
  let stored = 0
  let lastOrdering = 0
  for (const value of results) {
    // Statuses are ACCEPTED (0) or negative; every positive value is an ordering.
    if (value > ACCEPTED) {
      stored++
      if (value > lastOrdering) lastOrdering = value
    }
  }
  return { stored, lastOrdering }
}
