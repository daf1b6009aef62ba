import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { docsDir, EXAMPLE_BLOCK, exampleRegion, markdownPages } from './markdown-examples.ts'

const label = (page: string) => page.slice(docsDir.length - 4)

/** Every `<!-- example: file#region -->` marker in a docs page must be followed by that region's exact code. */
describe('docs code blocks come from type-checked example files', () => {
  for (const page of markdownPages()) {
    const markers = [...readFileSync(page, 'utf8').matchAll(EXAMPLE_BLOCK)]
    if (markers.length === 0) continue
    it(`${label(page)} embeds its examples verbatim`, () => {
      for (const [, file, region, code] of markers) {
        const expected = exampleRegion(file!, region!)
        expect(expected, `region ${region} in ${file}`).toBeDefined()
        expect(code!.trim()).toBe(expected)
      }
    })
  }
})

describe('every TypeScript block in the docs is a tested example', () => {
  for (const page of markdownPages()) {
    it(`${label(page)} has no untested ts block`, () => {
      const text = readFileSync(page, 'utf8')
      const blocks = [
        ...text.matchAll(/(<!-- example: [\w./-]+#[\w-]+ -->\s*)?```(ts|typescript|js|javascript)\n/g),
      ]
      const untested = blocks.filter((b) => !b[1]).map((b) => text.slice(0, b.index).split('\n').length)
      expect(untested, `untested code blocks at lines ${untested.join(', ')}`).toEqual([])
    })
  }
})
