/**
 * The import rules of scripts/lib/, checked by `npm test` (npm run deps).
 * Each folder is a layer, and imports only point down:
 *
 *   commands/                 the front ends (one per launcher), launch.mjs
 *   bisect/  series/  ci/     what is built on runs; none imports another
 *   pipeline/                 one run: source to recorder, plan, options
 *   analysis/                 the results.json schema, statistics, report
 *   plumbing/                 processes, locks, files, errors, git, paths
 *
 * analysis/ is below pipeline/ because the recorder writes report.md and
 * the charts at the end of every run. No cycles anywhere, type-only
 * imports included.
 */
const LAYERS = '(plumbing|analysis|pipeline|bisect|series|ci|commands)';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'a cycle means neither module can be read, tested or moved without the other',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'an import that does not resolve (a module moved without its importers)',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'lib-in-layers',
      comment: `every module of scripts/lib/ lives in one of the layer folders ${LAYERS}`,
      severity: 'error',
      from: {},
      to: { path: '^scripts/lib/', pathNot: `^scripts/lib/${LAYERS}/` },
    },
    {
      name: 'plumbing-imports-plumbing',
      comment: 'plumbing/ is the floor: it imports nothing else of the kit',
      severity: 'error',
      from: { path: '^scripts/lib/plumbing/' },
      to: { path: '^scripts/lib/', pathNot: '^scripts/lib/plumbing/' },
    },
    {
      name: 'analysis-not-up',
      comment: 'analysis/ (schema, statistics, report) sees only itself and plumbing/',
      severity: 'error',
      from: { path: '^scripts/lib/analysis/' },
      to: { path: '^scripts/lib/(pipeline|bisect|series|ci|commands)/' },
    },
    {
      name: 'pipeline-not-up',
      comment: 'pipeline/ (the stages of a run) knows nothing of what is built on it, nor of the command lines',
      severity: 'error',
      from: { path: '^scripts/lib/pipeline/' },
      to: { path: '^scripts/lib/(bisect|series|ci|commands)/' },
    },
    {
      name: 'capabilities-not-commands',
      comment: 'bisect/, series/ and ci/ are driven by commands/, never the other way',
      severity: 'error',
      from: { path: '^scripts/lib/(bisect|series|ci)/' },
      to: { path: '^scripts/lib/commands/' },
    },
    {
      name: 'capabilities-apart',
      comment: 'bisect/, series/ and ci/ share through the layers below them, not through each other',
      severity: 'error',
      from: { path: '^scripts/lib/(bisect|series|ci)/' },
      to: { path: '^scripts/lib/(bisect|series|ci)/', pathNot: '^scripts/lib/$1/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count: a cycle through types is still a cycle.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // Packages with an exports map (tsx/esm/api, vega-lite's types).
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
  },
};
