/** @internal The parts of XState's StateNode that the exporters and checks read. */
export interface StateNodeLike {
  readonly id: string
  readonly key: string
  readonly type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history'
  readonly states: Readonly<Record<string, StateNodeLike>>
  readonly parent?: StateNodeLike | undefined
  readonly initial?: { readonly target?: readonly StateNodeLike[] } | undefined
  readonly transitions?: ReadonlyMap<
    string,
    readonly { eventType: string; target?: StateNodeLike[] | undefined; guard?: unknown }[]
  >
  readonly always?: readonly { target?: StateNodeLike[] | undefined; guard?: unknown }[] | undefined
}

/** Every state node below (and including) `root`, depth first in document order. */
export function allStateNodes(root: StateNodeLike): StateNodeLike[] {
  const out: StateNodeLike[] = []
  const visit = (node: StateNodeLike) => {
    out.push(node)
    for (const child of Object.values(node.states ?? {})) visit(child)
  }
  visit(root)
  return out
}

/**
 * Mermaid-safe, unique ids for every state node: the node's path joined with `__`, reduced to letters,
 * digits and `_` (Mermaid state ids cannot hold dots), with a numeric suffix on the rare collision.
 */
export function mermaidIdsOf(root: StateNodeLike): Map<string, string> {
  const ids = new Map<string, string>()
  const used = new Set<string>()
  for (const node of allStateNodes(root)) {
    const base = `s_${node.id.replace(/\./g, '__').replace(/[^A-Za-z0-9_]/g, '_')}`
    let id = base
    for (let n = 2; used.has(id); n++) id = `${base}_${n}`
    used.add(id)
    ids.set(node.id, id)
  }
  return ids
}
