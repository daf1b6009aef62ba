import { encodeAppendRequest } from '@statesource/core/internal'
import { appendRequest, newEvent } from '@statesource/core/testing'
import { describe, expect, it } from 'vitest'
import { acceptedRows, decideAppend, resultsOf } from '../src/append-transaction.js'
import {
  ACCEPTED,
  BatchReader,
  conflictHead,
  conflictStatus,
  EVENT,
  encodeBatch,
  REQUEST,
  storedIn,
} from '../src/encoded-batch.js'

const requests = [
  encodeAppendRequest(
    appendRequest(
      'cart|1',
      [
        newEvent('item-added', { sku: 'a', note: 'ünïcødé 🛒' }, { tags: ['cart', 'cart', 'eu'] }),
        newEvent('checked-out', {}, { metadata: { by: 'ana' } }),
      ],
      { expectedSeqNr: 3 },
    ),
  ),
  encodeAppendRequest(appendRequest('no events', [])),
  encodeAppendRequest(appendRequest('cart|2', [newEvent('opened', { n: 1 }, { version: 2 })])),
]

/** Every request of a batch, read with a BatchReader; the events `skip` picks are passed over with skipEvent. */
function readBack(batch: ReturnType<typeof encodeBatch>, skip = (_request: number, _event: number) => false) {
  const reader = new BatchReader(batch)
  const decoded = []
  for (let r = 0; r < reader.requests; r++) {
    reader.nextRequest()
    const events = []
    for (let e = 0; e < reader.eventCount; e++) {
      if (skip(r, e)) reader.skipEvent()
      else events.push(reader.nextEvent())
    }
    decoded.push({ persistenceId: reader.persistenceId, expectedSeqNr: reader.expectedSeqNr, events })
  }
  return decoded
}

describe('the encoded batch', () => {
  it('decodes to the same requests, strings and numbers, duplicates of tags left out', () => {
    const decoded = readBack(encodeBatch(requests))
    expect(decoded).toEqual(
      requests.map((request) => ({
        persistenceId: request.persistenceId,
        expectedSeqNr: request.expectedSeqNr,
        events: request.events.map((event) => ({
          type: event.type,
          version: event.version,
          payloadJson: event.payloadJson,
          metadataJson: event.metadataJson,
          tagsJson: event.tagsJson,
          uniqueTags: event.uniqueTags,
        })),
      })),
    )
    expect(decoded[0]!.events[0]!.uniqueTags).toEqual(['cart', 'eu'])
    expect(decoded[0]!.events[0]!.tagsJson).toBe('["cart","cart","eu"]')
  })

  it('passes over skipped events, tags included, and reads the next ones intact', () => {
    // The first event of the first request has two distinct tags.
    const decoded = readBack(encodeBatch(requests), (request, event) => request === 0 && event === 0)
    expect(decoded.map((request) => request.persistenceId)).toEqual(['cart|1', 'no events', 'cart|2'])
    expect(decoded[0]!.events).toEqual([
      expect.objectContaining({ type: 'checked-out', metadataJson: '{"by":"ana"}', uniqueTags: [] }),
    ])
    expect(decoded[2]!.events[0]).toMatchObject({ type: 'opened', version: 2, payloadJson: '{"n":1}' })
  })

  it('lays out each request and event in the slots its constants name', () => {
    const { layout } = encodeBatch(requests.slice(0, 1))
    const event = REQUEST.size
    expect(layout[REQUEST.persistenceIdLength]).toBe('cart|1'.length)
    expect(layout[REQUEST.expectedSeqNr]).toBe(3)
    expect(layout[REQUEST.eventCount]).toBe(2)
    expect(layout[event + EVENT.typeLength]).toBe('item-added'.length)
    expect(layout[event + EVENT.version]).toBe(1)
    expect(layout[event + EVENT.tagCount]).toBe(2)
    expect(layout.length).toBe(REQUEST.size + EVENT.size + 2 + EVENT.size)
  })

  it('tells a conflict status from an accepted one and gives back the head it holds', () => {
    expect(conflictHead(conflictStatus(0))).toBe(0)
    expect(conflictHead(conflictStatus(41))).toBe(41)
    expect(conflictStatus(0)).toBeLessThan(ACCEPTED)
    expect(conflictHead(ACCEPTED)).toBeUndefined()
    expect(storedIn([ACCEPTED, 7, 9, conflictStatus(5), ACCEPTED, 8])).toEqual({ stored: 3, lastOrdering: 9 })
  })
})

describe('the append decision', () => {
  it('accepts a request at its stream head, chains the next one of the batch and fails a stale one alone', () => {
    const batch = [
      encodeAppendRequest(appendRequest('s', [newEvent('a'), newEvent('b')], { expectedSeqNr: 0 })),
      encodeAppendRequest(appendRequest('s', [newEvent('c')], { expectedSeqNr: 2 })),
      encodeAppendRequest(appendRequest('s', [newEvent('d')], { expectedSeqNr: 0 })),
      encodeAppendRequest(appendRequest('t', [newEvent('e')], { expectedSeqNr: 4 })),
    ]
    const heads = new Map<string, number>()
    const read: string[] = []
    const statuses = decideAppend(batch, heads, (persistenceId) => {
      read.push(persistenceId)
      return persistenceId === 't' ? 5 : 0
    })
    expect(read).toEqual(['s', 't'])
    expect(statuses).toEqual([ACCEPTED, ACCEPTED, conflictStatus(3), conflictStatus(5)])
    expect(
      acceptedRows(batch, statuses).map((row) => [row.persistenceId, row.seqNr, row.event.type]),
    ).toEqual([
      ['s', 1, 'a'],
      ['s', 2, 'b'],
      ['s', 3, 'c'],
    ])
    expect(heads).toEqual(
      new Map([
        ['s', 3],
        ['t', 5],
      ]),
    )
    expect(resultsOf(batch, statuses, [10, 11, 12])).toEqual([
      ACCEPTED,
      10,
      11,
      ACCEPTED,
      12,
      conflictStatus(3),
      conflictStatus(5),
    ])
  })
})
