// Builds the web app into dist/: one hashed JS bundle and CSS file under dist/assets/ (cached
// forever by `quire api`), index.html naming them, sw.js with the list of assets to keep
// offline, and public/ copied as is. `npm run build`; ./ops/run does it. `node build.mjs DIR`
// builds into DIR instead (the browser tests build their own copy).
import * as esbuild from 'esbuild'
import fs from 'node:fs'
import path from 'node:path'
import crypto from 'node:crypto'

const here = path.dirname(new URL(import.meta.url).pathname)
const dist = path.resolve(process.argv[2] || path.join(here, 'dist'))
fs.rmSync(dist, { recursive: true, force: true })
fs.mkdirSync(path.join(dist, 'assets'), { recursive: true })

const result = await esbuild.build({
  entryPoints: [path.join(here, 'src/main.js')],
  bundle: true,
  format: 'esm',
  target: ['chrome110', 'firefox115', 'safari16'],
  minify: true,
  sourcemap: 'linked',
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  outdir: path.join(dist, 'assets'),
  metafile: true,
  legalComments: 'linked',
  logLevel: 'warning'
})

const outputs = Object.keys(result.metafile.outputs).map((p) => path.relative(dist, path.resolve(p)))
const js = outputs.find((p) => /^assets\/main-[^/]+\.js$/.test(p))
const css = outputs.find((p) => /^assets\/main-[^/]+\.css$/.test(p))
if (!js || !css) throw new Error('build: missing main js/css in ' + outputs.join(', '))
const assets = outputs.filter((p) => !p.endsWith('.map')).map((p) => '/' + p)

const html = fs.readFileSync(path.join(here, 'index.html'), 'utf8').replace('__JS__', '/' + js).replace('__CSS__', '/' + css)
fs.writeFileSync(path.join(dist, 'index.html'), html)
for (const f of fs.readdirSync(path.join(here, 'public'))) fs.copyFileSync(path.join(here, 'public', f), path.join(dist, f))
const version = crypto.createHash('sha256').update(assets.join('\n') + html).digest('hex').slice(0, 12)
const sw = fs.readFileSync(path.join(here, 'src/sw.js'), 'utf8')
  .replace('__VERSION__', version)
  .replace('__ASSETS__', JSON.stringify(['/favicon.svg', ...assets]))
fs.writeFileSync(path.join(dist, 'sw.js'), sw)
const size = (p) => (fs.statSync(path.join(dist, p)).size / 1024).toFixed(0) + ' KiB'
console.log(`web: ${path.relative(process.cwd(), dist) || '.'}/${js} (${size(js)}), ${css} (${size(css)}), sw ${version}`)
