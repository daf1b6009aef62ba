// TypeDoc names each entry point after its folder ("core/src"); readers import package names, so the
// reference is organised by those. The summaries repeat each package.json description so the index page says
// what each package is for.
import { readFileSync } from 'node:fs'
import { Comment, Converter, ReflectionKind } from 'typedoc'

const description = (pkg) =>
  JSON.parse(readFileSync(new URL(`../packages/${pkg}/package.json`, import.meta.url), 'utf8')).description

const MODULES = {
  'core/src': { name: '@statesource/core', summary: description('core') },
  'core/src/testing': {
    name: '@statesource/core/testing',
    summary:
      'Test helpers: given/when/then specs for aggregates and the contract suite every journal must pass.',
  },
  'sqlite/src': { name: '@statesource/sqlite', summary: description('sqlite') },
  'postgres/src': { name: '@statesource/postgres', summary: description('postgres') },
  'cluster/src': { name: '@statesource/cluster', summary: description('cluster') },
  'inspect/src': { name: '@statesource/inspect', summary: description('inspect') },
}

const INTRO =
  'Every export of the public entry points, generated from the TSDoc in the source by `pnpm docs:reference`. ' +
  'Do not edit these pages: change the doc comment and regenerate (the docs tests fail while they are stale). ' +
  'For explanations and worked examples start at the [docs index](../index.md).'

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_CREATE_DECLARATION, (_context, reflection) => {
    if (!reflection.kindOf(ReflectionKind.Module)) return
    const module = MODULES[reflection.name]
    if (!module) {
      throw new Error(
        `Entry point "${reflection.name}" has no package name in docs/typedoc-plugin-statesource.mjs: add it to MODULES.`,
      )
    }
    reflection.name = module.name
    reflection.comment ??= new Comment([{ kind: 'text', text: module.summary }])
  })
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    context.project.comment = new Comment([{ kind: 'text', text: INTRO }])
  })
}
