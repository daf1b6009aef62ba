import { describe, expect, it } from 'vitest'
import { Idempotency } from '../../src/gateway/idempotency.ts'
import type { EventEnvelope } from '../../src/index.ts'

function envelope(seqNr: number, commandId?: string): EventEnvelope {
  return {
    persistenceId: 'account|a',
    seqNr,
    ordering: 100 + seqNr,
    type: 'deposited',
    version: 1,
    payload: {},
    tags: [],
    metadata: commandId === undefined ? {} : { commandId, commandHash: `hash-${commandId}` },
    timestamp: 0,
    writerId: 'test',
  }
}

describe('Idempotency', () => {
  it('recovers one record per command from the events, consecutive events of a command joined', () => {
    const records = new Idempotency(10).recover(
      [['s', { hash: 'hash-s', fromSeqNr: 1, toSeqNr: 1, ordering: 101 }]],
      [envelope(2, 'a'), envelope(3, 'a'), envelope(4), envelope(5, 'b'), envelope(6, 'a')],
    )
    expect([...records!]).toEqual([
      ['s', { hash: 'hash-s', fromSeqNr: 1, toSeqNr: 1, ordering: 101 }],
      ['b', { hash: 'hash-b', fromSeqNr: 5, toSeqNr: 5, ordering: 105 }],
      // Used again later, not consecutively: the record is of its last use, and it is the most recent.
      ['a', { hash: 'hash-a', fromSeqNr: 6, toSeqNr: 6, ordering: 106 }],
    ])
  })

  it('keeps the most recently used ids within the window', () => {
    const idempotency = new Idempotency(2)
    const holder = { commandIds: idempotency.recover([], [envelope(1, 'a'), envelope(2, 'b')]) }
    idempotency.rememberUnwritten(holder, 'a', 'hash-a', 2)
    idempotency.rememberWritten(holder, 'c', 'hash-c', [envelope(3), envelope(4)])
    expect([...holder.commandIds!.keys()]).toEqual(['a', 'c'])
    expect(holder.commandIds!.get('c')).toEqual({ hash: 'hash-c', fromSeqNr: 3, toSeqNr: 4, ordering: 104 })
  })

  it('finds an earlier command under the same id, and refuses another payload under it', () => {
    const idempotency = new Idempotency(10)
    const holder = { commandIds: idempotency.recover([], [envelope(1, 'a')]) }
    expect(idempotency.find(holder, 'a', 'hash-a', 'account|a')).toMatchObject({ toSeqNr: 1 })
    expect(idempotency.find(holder, 'new', 'hash-new', 'account|a')).toBeUndefined()
    expect(() => idempotency.find(holder, 'a', 'hash-other', 'account|a')).toThrow(
      expect.objectContaining({ code: 'IDEMPOTENCY_CONFLICT' }),
    )
  })

  it('gives snapshots only the ids of commands that wrote events', () => {
    const idempotency = new Idempotency(10)
    const holder = { commandIds: idempotency.recover([], [envelope(1, 'a')]) }
    idempotency.rememberUnwritten(holder, 'nothing', 'hash-nothing', 1)
    expect(idempotency.durable(holder).map(([commandId]) => commandId)).toEqual(['a'])
    expect(idempotency.durable({ commandIds: undefined })).toEqual([])
  })
})
