import { defineConfig } from 'vitest/config'

// vitest 5 uses Map.groupBy (Node 21+) when it prints failures; Node 20 lacks it.
if (typeof (Map as { groupBy?: unknown }).groupBy !== 'function') {
  Object.defineProperty(Map, 'groupBy', {
    configurable: true,
    writable: true,
    value<K, T>(items: Iterable<T>, key: (item: T, index: number) => K): Map<K, T[]> {
      const groups = new Map<K, T[]>()
      let i = 0
      for (const item of items) {
        const k = key(item, i++)
        const list = groups.get(k)
        if (list) list.push(item)
        else groups.set(k, [item])
      }
      return groups
    },
  })
}

export default defineConfig({
  test: {
    projects: ['packages/*', 'tests', 'docs'],
  },
})
