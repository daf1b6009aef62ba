import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The docs folder. */
export const docsDir = dirname(fileURLToPath(import.meta.url))

/** `<!-- example: file#region -->` followed by a ts block: the marker and the code it must equal. */
export const EXAMPLE_BLOCK = /<!-- example: ([\w./-]+)#([\w-]+) -->\s*```ts\n([\s\S]*?)```/g

/**
 * README.md, each published package's README.md and every Markdown page under docs/, except the examples and the generated API reference
 * (its code blocks are signatures and the TSDoc `@example`s of the source, checked by `tsc`).
 */
export function markdownPages(): string[] {
  const packages = ['core', 'sqlite', 'postgres', 'cluster', 'inspect'].map((name) =>
    join(docsDir, '..', 'packages', name, 'README.md'),
  )
  return [join(docsDir, '..', 'README.md'), ...packages, ...listMarkdown(docsDir)]
}

function listMarkdown(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (['node_modules', 'examples', 'reference'].includes(entry.name)) return []
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return listMarkdown(path)
    return entry.name.endsWith('.md') ? [path] : []
  })
}

/** The code between `// #region name` and `// #endregion name` in a docs example file, dedented. */
export function exampleRegion(file: string, region: string): string | undefined {
  const source = readFileSync(join(docsDir, 'examples', file), 'utf8')
  const match = source.match(new RegExp(`// #region ${region}\\n([\\s\\S]*?)// #endregion ${region}`))
  return match ? dedent(match[1]!).trim() : undefined
}

function dedent(text: string): string {
  const lines = text.split('\n')
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => l.match(/^ */)![0].length))
  return lines.map((l) => l.slice(indent)).join('\n')
}

/**
 * The code a page prints under `<!-- example: file#region -->`, exactly as a reader copies it.
 * Throws when the page has no such block.
 */
export function printedBlock(page: string, file: string, region: string): string {
  for (const [, blockFile, blockRegion, code] of readFileSync(page, 'utf8').matchAll(EXAMPLE_BLOCK)) {
    if (blockFile === file && blockRegion === region) return code!
  }
  throw new Error(`${page} prints no block "${file}#${region}".`)
}
