// How the source files of every package import each other: no cycles, and the read side never reaches back into
// the topology that wires it. Cycles between folders are what module-level registries and hook lists hold
// together; configuration passed in keeps imports pointing one way.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../..', import.meta.url))
const packagesDir = join(root, 'packages')

const sourceFiles = readdirSync(packagesDir, { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && existsSync(join(packagesDir, entry.name, 'src')))
  .flatMap((entry) =>
    readdirSync(join(packagesDir, entry.name, 'src'), { withFileTypes: true, recursive: true })
      .filter((file) => file.isFile() && /\.(ts|js|mjs)$/.test(file.name) && !file.name.endsWith('.d.ts'))
      .map((file) => relative(root, join(file.parentPath, file.name))),
  )
  .sort()

// Static imports and re-exports, type-only ones included (a type cycle still ties two modules together), and
// dynamic `import('./x')` with a literal path.
const specifier =
  /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/gm

/** The repository-relative files `file` imports by relative path. */
function relativeImports(file: string, text: string): string[] {
  const found: string[] = []
  for (const match of text.matchAll(specifier)) {
    const target = match[1] ?? match[2]!
    if (!target.startsWith('.')) continue
    const path = relative(root, resolve(root, dirname(file), target))
    found.push(path)
  }
  return found
}

// Comments may show imports in examples: drop them before matching.
const withoutComments = (text: string) => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '')

const graph = new Map(
  sourceFiles.map((file) => [
    file,
    relativeImports(file, withoutComments(readFileSync(join(root, file), 'utf8'))).filter((target) =>
      sourceFiles.includes(target),
    ),
  ]),
)

/** Every cycle found by a depth-first walk, each as the path of files that closes it. */
function findCycles(edges: ReadonlyMap<string, readonly string[]>): string[][] {
  const cycles: string[][] = []
  const state = new Map<string, 'open' | 'done'>()
  const stack: string[] = []
  const visit = (file: string) => {
    state.set(file, 'open')
    stack.push(file)
    for (const next of edges.get(file) ?? []) {
      const seen = state.get(next)
      if (seen === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next])
      else if (seen === undefined) visit(next)
    }
    stack.pop()
    state.set(file, 'done')
  }
  for (const file of edges.keys()) if (!state.has(file)) visit(file)
  return cycles
}

describe('import graph', () => {
  it('reads the imports of the source files', () => {
    // Guards the scan itself: were the pattern to stop matching, every check below would pass vacuously.
    expect(graph.get('packages/core/src/topology/cqrs-pattern.ts')).toContain(
      'packages/core/src/read-side/read-side.ts',
    )
    expect(
      findCycles(
        new Map([
          ['a', ['b']],
          ['b', ['c']],
          ['c', ['a']],
        ]),
      ),
    ).toEqual([['a', 'b', 'c', 'a']])
  })

  it('has no import cycle in any package', () => {
    expect(findCycles(graph).map((cycle) => cycle.join(' → '))).toEqual([])
  })

  it('keeps the read side free of imports from the topology', () => {
    const readSide = [...graph].filter(([file]) => file.startsWith('packages/core/src/read-side/'))
    expect(readSide.length).toBeGreaterThan(0)
    const intoTopology = readSide.flatMap(([file, targets]) =>
      targets
        .filter((target) => target.startsWith('packages/core/src/topology/'))
        .map((t) => `${file} → ${t}`),
    )
    expect(intoTopology).toEqual([])
  })
})
