// @ts-check
// Hot path: measured by packages/sqlite/bench/journal-bench.ts (pnpm bench). Measure before and after changing this file.
// The format of one group-commit batch as it crosses to the writer thread, and of the results that come back:
// the one place both threads read it from. Plain JavaScript because the writer thread
// (`journal-writer.worker.js`) loads it without a TypeScript loader.

/**
 * An event of a batch: serialized before its transaction starts (`EncodedEvent` of `@statesource/core/internal` is one).
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
 * A request of a batch (`PendingAppend` of `@statesource/core/internal` is one).
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
 * Reads requests one after the other, without building them all first: `nextRequest()` moves to the next request
 * and sets its fields, then each of its events is either read with `nextEvent()` or passed over with
 * `skipEvent()`. The transaction body (`append-transaction.js`) reads an {@link EncodedBatch} this way in the
 * writer thread, and the requests themselves the same way on the application's connection.
 *
 * @typedef {object} RequestReader
 * @property {number} requests How many requests there are.
 * @property {string} persistenceId Of the current request.
 * @property {number} expectedSeqNr Of the current request.
 * @property {number} eventCount Of the current request.
 * @property {() => void} nextRequest
 * @property {() => BatchEvent} nextEvent
 * @property {() => void} skipEvent
 */

/**
 * A {@link RequestReader} over an {@link EncodedBatch}.
 *
 * @implements {RequestReader}
 */
export class BatchReader {
  /** @param {EncodedBatch} batch */
  constructor(batch) {
    this.text = batch.text
    this.layout = batch.layout
    this.requests = batch.requests
    this.persistenceId = ''
    this.expectedSeqNr = 0
    this.eventCount = 0
    /** Position in `layout`. */
    this.at = 0
    /** Position in `text`. */
    this.from = 0
  }

  /** @param {number} offset */
  slot(offset) {
    return /** @type {number} */ (this.layout[this.at + offset])
  }

  /** @param {number} length */
  take(length) {
    const start = this.from
    this.from += length
    return this.text.slice(start, this.from)
  }

  nextRequest() {
    this.persistenceId = this.take(this.slot(REQUEST.persistenceIdLength))
    this.expectedSeqNr = this.slot(REQUEST.expectedSeqNr)
    this.eventCount = this.slot(REQUEST.eventCount)
    this.at += REQUEST.size
  }

  /** @returns {BatchEvent} */
  nextEvent() {
    const type = this.take(this.slot(EVENT.typeLength))
    const version = this.slot(EVENT.version)
    const payloadJson = this.take(this.slot(EVENT.payloadLength))
    const metadataJson = this.take(this.slot(EVENT.metadataLength))
    const tagsJson = this.take(this.slot(EVENT.tagsJsonLength))
    const tagCount = this.slot(EVENT.tagCount)
    this.at += EVENT.size
    /** @type {readonly string[]} */
    let uniqueTags = NO_TAGS
    if (tagCount > 0) {
      /** @type {string[]} */
      const tags = []
      for (let t = 0; t < tagCount; t++) tags.push(this.take(this.slot(t)))
      uniqueTags = tags
      this.at += tagCount
    }
    return { type, version, payloadJson, metadataJson, tagsJson, uniqueTags }
  }

  skipEvent() {
    const tagCount = this.slot(EVENT.tagCount)
    let length = this.slot(EVENT.typeLength) + this.slot(EVENT.payloadLength)
    length += this.slot(EVENT.metadataLength) + this.slot(EVENT.tagsJsonLength)
    for (let t = 0; t < tagCount; t++) length += this.slot(EVENT.size + t)
    this.from += length
    this.at += EVENT.size + tagCount
  }
}

/**
 * A {@link RequestReader} over requests that are already objects.
 *
 * @implements {RequestReader}
 */
export class RequestListReader {
  /** @param {readonly BatchRequest[]} list */
  constructor(list) {
    this.list = list
    this.requests = list.length
    this.persistenceId = ''
    this.expectedSeqNr = 0
    this.eventCount = 0
    /** @type {readonly BatchEvent[]} */
    this.events = NO_EVENTS
    this.request = -1
    this.event = 0
  }

  nextRequest() {
    const request = /** @type {BatchRequest} */ (this.list[++this.request])
    this.persistenceId = request.persistenceId
    this.expectedSeqNr = request.expectedSeqNr
    this.events = request.events
    this.eventCount = request.events.length
    this.event = 0
  }

  /** @returns {BatchEvent} */
  nextEvent() {
    return /** @type {BatchEvent} */ (this.events[this.event++])
  }

  skipEvent() {
    this.event++
  }
}

/** @type {readonly BatchEvent[]} */
const NO_EVENTS = Object.freeze([])

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
