import type { ViteUserConfig } from 'vitest/config'

/** The export condition under which the @statesource/* packages resolve to their TypeScript sources. */
export const SOURCE_CONDITION = '@statesource/source'

/**
 * Resolve options every vitest project of this repository uses: tests run against the packages' src/
 * (through the `@statesource/source` condition of their `exports`), never against a stale or missing dist/.
 * The rest are Vite's default conditions, which setting `conditions` would otherwise replace.
 */
export const resolveSource = {
  resolve: { conditions: [SOURCE_CONDITION, 'module', 'node', 'development|production'] },
  ssr: {
    resolve: {
      conditions: [SOURCE_CONDITION, 'module', 'node', 'development|production'],
      externalConditions: [SOURCE_CONDITION],
    },
  },
} satisfies ViteUserConfig
