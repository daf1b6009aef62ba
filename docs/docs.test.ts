import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const here = dirname(fileURLToPath(import.meta.url))

/** Every `<!-- example: file#region -->` marker in a docs page must be followed by that region's exact code. */
describe('docs code blocks come from type-checked example files', () => {
  const pages = [join(here, '..', 'README.md'), ...listMarkdown(here)]
  for (const page of pages) {
    const text = readFileSync(page, 'utf8')
    const markers = [...text.matchAll(/<!-- example: ([\w./-]+)#([\w-]+) -->\s*```ts\n([\s\S]*?)```/g)]
    if (markers.length === 0) continue
    it(`${page.slice(here.length - 4)} embeds its examples verbatim`, () => {
      for (const [, file, region, code] of markers) {
        const source = readFileSync(join(here, 'examples', file!), 'utf8')
        const match = source.match(new RegExp(`// #region ${region}\\n([\\s\\S]*?)// #endregion ${region}`))
        expect(match, `region ${region} in ${file}`).not.toBeNull()
        expect(code!.trim()).toBe(dedent(match![1]!).trim())
      }
    })
  }
})

describe('every TypeScript block in the docs is a tested example', () => {
  for (const page of [join(here, '..', 'README.md'), ...listMarkdown(here)]) {
    it(`${page.slice(here.length - 4)} has no untested ts block`, () => {
      const text = readFileSync(page, 'utf8')
      const blocks = [...text.matchAll(/(<!-- example: [\w./-]+#[\w-]+ -->\s*)?```(ts|typescript|js|javascript)\n/g)]
      const untested = blocks.filter((b) => !b[1]).map((b) => text.slice(0, b.index).split('\n').length)
      expect(untested, `untested code blocks at lines ${untested.join(', ')}`).toEqual([])
    })
  }
})

function listMarkdown(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name === 'node_modules' || entry.name === 'examples') return []
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return listMarkdown(path)
    return entry.name.endsWith('.md') ? [path] : []
  })
}

function dedent(text: string): string {
  const lines = text.split('\n')
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => l.match(/^ */)![0].length))
  return lines.map((l) => l.slice(indent)).join('\n')
}
