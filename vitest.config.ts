import { defineConfig } from 'vitest/config'
import { SOURCE_CONDITION } from './vitest.shared.ts'

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

// Processes the tests start (`node --import tsx child.ts`) resolve @statesource/* to source like the tests do.
// (The consumer test removes this again for the user project it installs.)
if (!process.env.NODE_OPTIONS?.includes(`--conditions=${SOURCE_CONDITION}`)) {
  process.env.NODE_OPTIONS = [process.env.NODE_OPTIONS, `--conditions=${SOURCE_CONDITION}`]
    .filter(Boolean)
    .join(' ')
}

export default defineConfig({
  test: {
    projects: ['packages/*', 'tests', 'docs'],
  },
})
