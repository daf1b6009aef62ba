import { describe, expect, it } from 'vitest'
import {
  createInMemoryOffsetStore,
  defineReader,
  type PlacedReader,
  type ReaderPlacement,
} from '../../src/index.ts'
import { account } from '../fixtures.ts'
import { accountBuilder } from './read-side-fixtures.ts'

/** A placement driven by the test: it runs what it is told to, when it is told to. */
function manualPlacement() {
  const placed = new Map<string, PlacedReader>()
  let unplaced = 0
  const placement: ReaderPlacement = {
    place(readers) {
      for (const reader of readers) placed.set(reader.name, reader)
      return async () => {
        unplaced++
        await Promise.all(readers.map((reader) => reader.stop()))
      }
    },
  }
  return { placement, placed, unplaced: () => unplaced }
}

const deposits = () =>
  defineReader({
    name: 'deposits',
    initialState: 0,
    apply: (n: number, event) => (event.type === 'deposited' ? n + 1 : n),
    // Durable: it resumes from the stored offset with its state loaded (here: recounted from the offset).
    loadState: async () => -1,
  })

describe('a reader placement', () => {
  it('runs readers only when it starts them, resumes each start from the stored offset, and never while stopped', async () => {
    const builder = accountBuilder().offsetStore(createInMemoryOffsetStore())
    const handle = builder.withReader(deposits())
    const { placement, placed, unplaced } = manualPlacement()
    const handles = await builder.build().materialize({ readerPlacement: placement })
    const accounts = handles.repository(account)
    await accounts.send('a-1', { type: 'open', owner: 'Ada' })
    const first = await accounts.send('a-1', { type: 'deposit', amount: 5 })
    // Handed over, not started: nothing applied, and the status says it runs nowhere here.
    expect([...placed.keys()]).toEqual(['deposits'])
    expect(handle.status.phase).toBe('idle')
    expect((await handles.readerStatus()).map((s) => s.phase)).toEqual(['idle'])
    await placed.get('deposits')!.start()
    expect(await handle.waitForOffset(first.ordering)).toBe(1)
    // Moved away: stopped, and events after that are not applied here.
    await placed.get('deposits')!.stop()
    expect(handle.status.phase).toBe('stopped')
    const second = await accounts.send('a-1', { type: 'deposit', amount: 5 })
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(handle.offset).toBe(first.ordering)
    // Back: a fresh runner from the stored offset (its state from loadState), then only the new event.
    await placed.get('deposits')!.start()
    expect(await handle.waitForOffset(second.ordering)).toBe(0)
    await handles.stop()
    expect(unplaced()).toBe(1)
    expect(handle.status.phase).toBe('stopped')
  })

  it('a stop while the reader is still loading its offset keeps it from following the journal', async () => {
    const offsets = createInMemoryOffsetStore()
    let release = () => {}
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const slow = {
      load: async (name: string) => {
        await gate
        return offsets.load(name)
      },
      save: (name: string, ordering: number) => offsets.save(name, ordering),
      reset: (name: string) => offsets.reset(name),
    }
    const builder = accountBuilder().offsetStore(slow)
    const handle = builder.withReader(deposits())
    const { placement, placed } = manualPlacement()
    const handles = await builder.build().materialize({ readerPlacement: placement })
    await handles.repository(account).send('a-1', { type: 'open', owner: 'Ada' })
    await handles.repository(account).send('a-1', { type: 'deposit', amount: 5 })
    const reader = placed.get('deposits')!
    // A start cancelled before it began leaves the reader idle.
    const cancelled = reader.start()
    await reader.stop()
    await cancelled
    expect(handle.status.phase).toBe('idle')
    // A start under way (loading its offset) that is stopped never starts following.
    const starting = reader.start()
    await new Promise((resolve) => setTimeout(resolve, 10))
    const stopped = reader.stop()
    release()
    await Promise.all([starting, stopped])
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(handle.status.phase).toBe('stopped')
    expect(handle.status.applied).toBe(0)
    await handles.stop()
  })

  it("uses the placement the gateway's snapshot offers when none is given", async () => {
    const { placement, placed } = manualPlacement()
    const builder = accountBuilder()
    builder.withReader(deposits())
    const topology = builder.build()
    const own = await topology.materialize()
    const gateway = own.gateway
    // A gateway whose snapshot offers a placement, as the clustered gateway's does.
    const offering = {
      ...gateway,
      getSnapshot: () => ({
        ...gateway.getSnapshot(),
        context: { ...gateway.getSnapshot().context, readerPlacement: placement },
      }),
    }
    await own.stop()
    const handles = await topology.materialize({ gateway: offering as typeof gateway })
    expect([...placed.keys()]).toEqual(['deposits'])
    await handles.stop()
  })
})
