import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { katex } from '@mdit/plugin-katex';
import { type DefaultTheme, defineConfig } from 'vitepress';

const src = fileURLToPath(new URL('../src', import.meta.url));

/** The TypeDoc pages exist only after `scripts/generate.ts`; the sidebar lists what is there. */
function apiSidebar(): DefaultTheme.SidebarItem[] {
  const dir = `${src}/reference/api/@anchorage`;
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((file) => file.endsWith('.md'))
    .sort()
    .map((file) => {
      const name = file.replace(/\.md$/, '');
      return { text: `@anchorage/${name}`, link: `/reference/api/@anchorage/${name}` };
    });
}

export default defineConfig({
  title: 'anchorage',
  description: 'Class Anchor Margin (CAM) loss training and two-stage image retrieval for TypeScript',
  srcDir: 'src',
  outDir: 'dist',
  cleanUrls: true,
  lastUpdated: false,
  // Links between pages are checked at build time: a broken one fails the build.
  ignoreDeadLinks: false,
  markdown: {
    config: (md) => {
      // @mdit and VitePress are typed against two releases of @types/markdown-it; the runtime
      // object is the same markdown-it instance.
      md.use(katex as unknown as Parameters<typeof md.use>[0], { throwOnError: true });
    },
  },
  // TypeDoc writes one page per package; the trainer's is large by design, not a bundling mistake.
  vite: { build: { chunkSizeWarningLimit: 2048 } },
  vue: {
    template: {
      compilerOptions: {
        // KaTeX's MathML twin of every formula, for screen readers.
        isCustomElement: (tag) => tag === 'semantics' || tag === 'annotation',
      },
    },
  },
  themeConfig: {
    search: { provider: 'local' },
    nav: [
      { text: 'Getting started', link: '/getting-started' },
      { text: 'Concepts', link: '/concepts/cam-loss' },
      { text: 'Guides', link: '/guides/export-and-serve' },
      { text: 'Reference', link: '/reference/' },
      { text: 'Results', link: '/results/' },
    ],
    sidebar: [
      { text: 'Getting started', link: '/getting-started' },
      {
        text: 'Concepts',
        items: [
          { text: 'The CAM loss', link: '/concepts/cam-loss' },
          { text: 'Two-stage retrieval', link: '/concepts/two-stage-retrieval' },
          { text: 'Choosing m and p', link: '/concepts/choosing-m-and-p' },
          { text: 'Evaluation protocol', link: '/concepts/evaluation' },
          { text: 'Artifacts: bundle and index', link: '/concepts/artifacts' },
          { text: 'How the packages fit', link: '/concepts/architecture' },
        ],
      },
      {
        text: 'Guides',
        items: [
          { text: 'Train on your own images', link: '/guides/image-folder' },
          { text: 'Choose a backbone', link: '/guides/backbones' },
          { text: 'CAM in your own tfjs model', link: '/guides/cam-in-tfjs' },
          { text: 'Export and serve', link: '/guides/export-and-serve' },
          { text: 'Query from code', link: '/guides/query-from-code' },
          { text: 'PostgreSQL, pgvector, Citus', link: '/guides/postgres' },
          { text: 'Train on a GPU', link: '/guides/gpu' },
        ],
      },
      {
        text: 'Reference',
        items: [
          { text: 'Overview', link: '/reference/' },
          { text: 'Command line', link: '/reference/cli' },
          { text: 'HTTP API', link: '/reference/http-api' },
          ...apiSidebar(),
        ],
      },
      {
        text: 'Results',
        items: [
          { text: 'Overview', link: '/results/' },
          { text: 'Retrieval quality', link: '/results/quality' },
          { text: 'The paper’s comparison', link: '/results/experiments' },
          { text: 'Search speed', link: '/results/search' },
          { text: 'Training speed', link: '/results/training' },
          { text: 'Serving', link: '/results/serving' },
        ],
      },
      {
        text: 'Internals',
        items: [{ text: 'The wasm training kernels', link: '/internals/wasm-training-kernels' }],
      },
    ],
    outline: { level: [2, 3] },
  },
});
