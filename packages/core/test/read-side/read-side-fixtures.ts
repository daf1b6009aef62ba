import type { ReadJournal } from '../../src/index.ts'
import { CqrsPattern, createInMemoryJournal, silentLogger } from '../../src/index.ts'
import { account } from '../fixtures.ts'

/** A builder over a fresh in-memory journal with the account aggregate and a quiet logger. */
export function accountBuilder(journal = createInMemoryJournal()) {
  return CqrsPattern.builder({ journal }).withAggregate(account).logger(silentLogger).pollInterval(10)
}

/** Wraps a read journal and records the name of every query made on it. */
export function spyReadJournal(inner: ReadJournal): { readJournal: ReadJournal; calls: string[] } {
  const calls: string[] = []
  const readJournal = new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver)
      if (typeof value !== 'function' || property === 'highestOrdering') return value
      return (...args: unknown[]) => {
        calls.push(String(property))
        return value.apply(target, args)
      }
    },
  })
  return { readJournal, calls }
}
