import { describe, expect, it } from 'vitest'
import { EventCodecRegistry, type EventEnvelope } from '../../src/index.ts'

const envelope = (payload: unknown, type = 'added'): EventEnvelope => ({
  ordering: 1,
  persistenceId: 'cart|c-1',
  seqNr: 1,
  type,
  version: 1,
  payload,
  tags: [],
  metadata: {},
  timestamp: 0,
  writerId: 'w',
})

describe('EventCodecRegistry default decoding', () => {
  const codecs = new EventCodecRegistry().register('added').registerDefault()

  it('gives a new object with the payload fields in their order and the type last', () => {
    const payload = JSON.parse('{"b":1,"a":{"n":2},"2":"x"}') as object
    const event = codecs.decode(envelope(payload))
    expect(event).not.toBe(payload)
    expect(Object.keys(event)).toEqual(['2', 'b', 'a', 'type'])
    expect(event).toEqual({ ...payload, type: 'added' })
    expect(payload).toEqual({ b: 1, a: { n: 2 }, 2: 'x' })
  })

  it('replaces a type field of the payload with the stored type, where the payload had it', () => {
    const event = codecs.decode(envelope({ type: 'stale', n: 1 }))
    expect(Object.entries(event)).toEqual([
      ['type', 'added'],
      ['n', 1],
    ])
  })

  it('keeps a stored __proto__ key as a plain field, leaving the prototype alone', () => {
    const payload = JSON.parse('{"__proto__":{"polluted":true},"n":1}') as object
    const event = codecs.decode(envelope(payload))
    expect(Object.getPrototypeOf(event)).toBe(Object.prototype)
    expect((event as { polluted?: unknown }).polluted).toBeUndefined()
    expect(Object.keys(event)).toEqual(['__proto__', 'n', 'type'])
  })

  it('copies enumerable symbol keys and spreads non-object payloads as a spread would', () => {
    const tag = Symbol('tag')
    const event = codecs.decode(envelope({ n: 1, [tag]: 'x' }))
    expect(Object.getOwnPropertyDescriptor(event, tag)?.value).toBe('x')
    expect(codecs.decode(envelope(null))).toEqual({ type: 'added' })
    expect(codecs.decode(envelope('ab'))).toEqual({ 0: 'a', 1: 'b', type: 'added' })
    expect(codecs.decode(envelope(['x']))).toEqual({ 0: 'x', type: 'added' })
  })

  it('decodes a manifest nothing registered through the catch-all the same way', () => {
    expect(codecs.decode(envelope({ n: 1 }, 'other'))).toEqual({ n: 1, type: 'other' })
  })
})

describe('EventCodecRegistry registrations after decoding', () => {
  it('decodes with what is registered at the time of each decode', () => {
    const codecs = new EventCodecRegistry().register('added')
    expect(codecs.decode(envelope({ n: 1 }))).toEqual({ n: 1, type: 'added' })
    codecs.register('added', 1, (payload) => ({ type: 'added', n: (payload as { n: number }).n * 10 }))
    expect(codecs.decode(envelope({ n: 1 }))).toEqual({ type: 'added', n: 10 })
    codecs.upcast('added', 1, (payload) => ({ m: (payload as { n: number }).n })).register('added', 2)
    expect(codecs.decode(envelope({ n: 3 }))).toEqual({ m: 3, type: 'added' })
    codecs.merge(new EventCodecRegistry().register('other', 1))
    expect(codecs.decode(envelope({ n: 3 }, 'other'))).toEqual({ n: 3, type: 'other' })
  })

  it('still throws for a manifest nothing decodes, after decoding others', () => {
    const codecs = new EventCodecRegistry().register('added')
    codecs.decode(envelope({ n: 1 }))
    expect(() => codecs.decode(envelope({ n: 1 }, 'unknown'))).toThrow(/unknown@1/)
  })
})
