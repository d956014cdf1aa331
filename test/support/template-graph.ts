// CloudFormation's own view of a template's order: a resource is created after, and deleted before, every
// resource it depends on, whether through DependsOn or through a Ref, Fn::GetAtt or Fn::Sub in its properties.

/** A synthesized template, as `Template.toJSON()` gives it. */
export interface TemplateJson {
  readonly Resources: Record<string, { Type: string; Properties?: any; DependsOn?: string | string[] }>;
}

/** Logical ids that a value refers to (Ref, Fn::GetAtt, and `${Id}` / `${Id.Attr}` in Fn::Sub). */
function references(value: unknown, into: Set<string>): void {
  if (Array.isArray(value)) {
    value.forEach(v => references(v, into));
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  for (const [key, inner] of Object.entries(value)) {
    if (key === 'Ref' && typeof inner === 'string') {
      into.add(inner);
    } else if (key === 'Fn::GetAtt') {
      into.add(Array.isArray(inner) ? String(inner[0]) : String(inner).split('.')[0]);
    } else if (key === 'Fn::Sub') {
      const text = Array.isArray(inner) ? inner[0] : inner;
      for (const m of String(text).matchAll(/\$\{([^!}][^}.]*)(\.[^}]*)?\}/g)) into.add(m[1]);
      if (Array.isArray(inner)) references(inner[1], into);
    } else {
      references(inner, into);
    }
  }
}

/** The resources each resource depends on directly (pseudo parameters and parameters left out). */
export function directDependencies(template: TemplateJson): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const [id, resource] of Object.entries(template.Resources)) {
    const deps = new Set<string>();
    references(resource.Properties ?? {}, deps);
    for (const d of [resource.DependsOn ?? []].flat()) deps.add(d);
    graph.set(id, new Set([...deps].filter(d => d in template.Resources && d !== id)));
  }
  return graph;
}

/** Everything `id` depends on, directly or through others: all of it exists before `id` and outlives it. */
export function transitiveDependencies(graph: Map<string, Set<string>>, id: string): Set<string> {
  const seen = new Set<string>();
  const stack = [...graph.get(id) ?? []];
  while (stack.length > 0) {
    const next = stack.pop()!;
    if (seen.has(next)) continue;
    seen.add(next);
    stack.push(...graph.get(next) ?? []);
  }
  return seen;
}

/** The logical ids of the resources of `type` whose properties satisfy `where`. */
export function resourcesOf(template: TemplateJson, type: string, where: (properties: any) => boolean = () => true): string[] {
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === type && where(r.Properties ?? {}))
    .map(([id]) => id);
}

/** The one resource of `type` that satisfies `where`; fails the test when there is not exactly one. */
export function theResource(template: TemplateJson, type: string, where?: (properties: any) => boolean): string {
  const ids = resourcesOf(template, type, where);
  if (ids.length !== 1) throw new Error(`expected one ${type} matching, found ${ids.length}: ${ids.join(', ')}`);
  return ids[0];
}
