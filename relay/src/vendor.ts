import { join } from 'node:path';

/**
 * Browser modules from the relay's own dependencies, served beside the page under `vendor/`: the
 * page has no bundler, so it loads them as single files. mediabunny ships a self-contained ES
 * module build; the WebCodecs recorder (public/webcodecs-recorder.ts) imports it from here.
 */
export const VENDOR_MODULES: ReadonlyMap<string, string> = new Map([
  ['vendor/mediabunny.js', packageFile('mediabunny', 'dist/bundles/mediabunny.min.mjs')],
]);

/** A file of an installed package, found the way the relay's own imports find the package. */
function packageFile(name: string, file: string): string {
  const entry = Bun.resolveSync(name, import.meta.dir);
  const root = `/node_modules/${name}/`;
  return join(entry.slice(0, entry.lastIndexOf(root) + root.length), file);
}
